// Imported by a worker thread (from the package's src/, which is published) to learn whether the
// thread can load TypeScript: see ../typescript-loader.ts. Its one annotation makes it TypeScript.
export const probe: boolean = true
