#!/usr/bin/env node
// One pool alone in a process, for profilers and counters (node --cpu-prof, perf stat): 4,000
// warm-up calls, then N calls of (n) => n + 1 with 32 in flight; prints the whole-process CPU per
// task (user and system) and tasks/s. Pools: fn, handle (a Threadpool), tinypool, piscina, patched.
//
//   node --cpu-prof --cpu-prof-dir=prof bench/scripts/pool-profile.mjs fn 20000
//   perf stat -e task-clock,context-switches -- node bench/scripts/pool-profile.mjs piscina 20000
import { Threadpool, workerTask } from '@taskscope/core'
import Piscina from 'piscina'
import { Tinypool } from 'tinypool'
import { patchedTinypool } from '../lib/patched-tinypool.mjs'

const which = process.argv[2]
const n = Number(process.argv[3] ?? 40000)
const tasksFile = new URL('../fixtures/pool-tasks.mjs', import.meta.url)
const sized = { minThreads: 1, maxThreads: 1, idleTimeout: 600000 }
let call, close
if (which === 'fn' || which === 'handle') {
  const p = new Threadpool(sized)
  const t = which === 'fn' ? (n) => n + 1 : workerTask(tasksFile)
  call = (i) => p.run(t, [i])
  close = () => p.destroy()
} else {
  const P = which === 'piscina' ? Piscina : which === 'tinypool' ? Tinypool : await patchedTinypool()
  const p = new P({ filename: tasksFile.href, ...sized })
  call = (i) => p.run(i)
  close = () => p.destroy()
}
async function drive(n) {
  let next = 0,
    sum = 0
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < n) {
        const r = await call(next++)
        sum += r
      }
    }),
  )
  return sum
}
await drive(4000)
const c = process.cpuUsage()
const t = process.hrtime.bigint()
const s = await drive(n)
const u = process.cpuUsage(c)
console.log(
  which,
  process.version,
  ((u.user + u.system) / n).toFixed(1),
  'µs CPU/task',
  'user',
  (u.user / n).toFixed(1),
  'sys',
  (u.system / n).toFixed(1),
  Math.round(n / (Number(process.hrtime.bigint() - t) / 1e9)),
  'tasks/s',
  s === (n * (n + 1)) / 2,
)
await close()
