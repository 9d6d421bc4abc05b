// Imported by a worker thread to learn whether the thread can load TypeScript (see
// ../typescript-loader.ts); the build copies it as is next to the compiled entry.js. Its one
// annotation makes it TypeScript.
export const probe: boolean = true
