import { TaskGroup } from '@taskscope/core'
import { Session } from 'node:inspector/promises'
const s = new Session(); s.connect()
async function trivialGroupNoAll(n) { const g = new TaskGroup(); for (let i = 0; i < n; i++) g.createTask(async () => 1); await g.close() }
for (let i = 0; i < 5; i++) await trivialGroupNoAll(10000)
await s.post('HeapProfiler.enable')
await s.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
for (let i = 0; i < 20; i++) await trivialGroupNoAll(10000)
const { profile } = await s.post('HeapProfiler.stopSampling')
const self = new Map(); let total = 0
function walk(n, path) {
  const cf = n.callFrame; const key = `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`
  total += n.selfSize; const p = (path ? path + ' < ' : '') + key.split(' ')[0]; if (n.selfSize > 0) self.set(p.split(' < ').reverse().slice(0,6).join(' < '), (self.get(p.split(' < ').reverse().slice(0,6).join(' < ')) ?? 0) + n.selfSize)
  for (const c of n.children) walk(c, p)
}
walk(profile.head)
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log((v / 200000).toFixed(0).padStart(6), 'B/task', k)
console.log('total', (total / 200000).toFixed(0))
