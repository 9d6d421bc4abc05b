// Build step after tsc: files the package needs in dist/ as they are. The TypeScript probe of the
// pool's worker threads must stay TypeScript (see src/threadpool/typescript-loader.ts).
import { copyFileSync } from 'node:fs'

copyFileSync(
  new URL('../src/threadpool/worker/typescript-probe.mts', import.meta.url),
  new URL('../dist/threadpool/worker/typescript-probe.mts', import.meta.url),
)
