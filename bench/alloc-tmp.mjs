import { TaskGroup } from '@taskscope/core'
import v8 from 'node:v8'
function onAbort() {}
async function listenerWork(signal) { signal.addEventListener('abort', onAbort, { once: true }); try { await null; return 1 } finally { signal.removeEventListener('abort', onAbort) } }
function hand(n) { const p = new Array(n); for (let i = 0; i < n; i++) { const c = new AbortController(); p[i] = listenerWork(c.signal) } return Promise.all(p) }
async function group(n) { const g = new TaskGroup(); const t = new Array(n); for (let i = 0; i < n; i++) t[i] = g.createTask((s) => listenerWork(s)); const r = await Promise.all(t); await g.close(); return r }
async function groupRun(n) { return TaskGroup.run(async (g) => { const t = new Array(n); for (let i = 0; i < n; i++) t[i] = g.createTask((s) => listenerWork(s)); return Promise.all(t) }) }
async function trivialHand(n) { const p = new Array(n); for (let i = 0; i < n; i++) p[i] = (async () => 1)(); return Promise.all(p) }
async function trivialGroupNoAll(n) { const g = new TaskGroup(); for (let i = 0; i < n; i++) g.createTask(async () => 1); await g.close() }
async function trivialGroupAll(n) { const g = new TaskGroup(); const t = new Array(n); for (let i = 0; i < n; i++) t[i] = g.createTask(async () => 1); await Promise.all(t); await g.close() }
async function trivialRunNoAll(n) { await TaskGroup.run(async (g) => { for (let i = 0; i < n; i++) g.createTask(async () => 1) }) }
async function ownNoAll(n) { const g = new TaskGroup(); for (let i = 0; i < n; i++) g.createTask(async (s) => 1); await g.close() }
function ctrlOnly(n) { const p = new Array(n); for (let i = 0; i < n; i++) { const c = new AbortController(); p[i] = c.signal } return p }
const impls = { hand, group, groupRun, trivialHand, trivialGroupNoAll, trivialGroupAll, trivialRunNoAll, ownNoAll, ctrlOnly }
const N = 10000
const st = () => v8.getHeapStatistics()
console.log(Object.keys(st()).join(' '))
for (let r = 0; r < 3; r++) for (const [k, f] of Object.entries(impls)) {
  gc(); const before = st().used_heap_size; const t = process.cpuUsage()
  // disable GC effects: measure used heap growth without gc in between (young gen large enough?)
  await f(N); const after = st().used_heap_size
  if (r === 2) console.log(k, ((after - before) / N).toFixed(0), 'B/task (upper bound if a scavenge happened)')
}
