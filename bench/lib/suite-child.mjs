// Runs one suite in a fresh process (started by run.mjs with --expose-gc) and sends its rows back
// over IPC, so that suites never share a heap, a JIT state or leftover handles.
const [suiteName, mode] = process.argv.slice(2)
const quick = mode === 'quick'
const send = (message) => new Promise((resolve) => process.send(message, resolve))
let message
try {
  const suite = await import(new URL(`../suites/${suiteName}.mjs`, import.meta.url))
  const missing = await suite.available?.()
  if (missing) {
    message = { skipped: missing, rows: suite.placeholderRows?.(missing) ?? [] }
  } else {
    message = { rows: await suite.run({ quick, log: (...a) => console.error(`[${suiteName}]`, ...a) }) }
  }
} catch (error) {
  message = { error: error?.stack ?? String(error) }
}
// The version it really ran on: run.mjs checks it against the binary it meant to start.
await send({ ...message, node: process.version })
// Pools, servers and sockets are closed by each suite; exit regardless so a stray handle never hangs the run.
process.exit(0)
