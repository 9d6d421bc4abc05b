import { TaskGroup } from '@taskscope/core'
function onAbort() {}
async function listenerWork(signal) { signal.addEventListener('abort', onAbort, { once: true }); try { await null; return 1 } finally { signal.removeEventListener('abort', onAbort) } }
function hand(n) { const p = new Array(n); for (let i = 0; i < n; i++) { const c = new AbortController(); p[i] = listenerWork(c.signal) } return Promise.all(p) }
async function group(n) { const g = new TaskGroup(); const t = new Array(n); for (let i = 0; i < n; i++) t[i] = g.createTask((s) => listenerWork(s)); const r = await Promise.all(t); await g.close(); return r }
async function groupRun(n) { return TaskGroup.run(async (g) => { const t = new Array(n); for (let i = 0; i < n; i++) t[i] = g.createTask((s) => listenerWork(s)); return Promise.all(t) }) }
async function groupClose(n) { const g = new TaskGroup(); for (let i = 0; i < n; i++) g.createTask((s) => listenerWork(s)); await g.close() }
const impls = { hand, group, groupRun, groupClose }
const N = 10000, res = {}
for (const k of Object.keys(impls)) res[k] = []
for (let r = 0; r < 12; r++) for (const [k, f] of Object.entries(impls)) {
  gc(); const t = process.cpuUsage(); await f(N); gc(); const u = process.cpuUsage(t); res[k].push((u.user + u.system) / N)
}
const med = (a) => a.slice(2).sort((x, y) => x - y)[(a.length - 2) >> 1]
for (const k of Object.keys(impls)) console.log(k.padEnd(10), med(res[k]).toFixed(2), 'µs/task', (med(res[k]) / med(res.hand)).toFixed(2) + '×')
