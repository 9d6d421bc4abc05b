import { fork } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { createRuntime, TaskGroup } from '@taskscope/core'
import { requestBinding, watchResponse } from '@taskscope/core/adapter'

const [mode, countArg] = process.argv.slice(2)
if (mode === 'parent') {
  const modes = process.argv.slice(4)
  const res = Object.fromEntries(modes.map((m) => [m, []]))
  for (let r = 0; r < Number(countArg); r++)
    for (const m of modes) {
      const v = await new Promise((ok) => {
        const p = fork(process.argv[1], [m, '50000'], { execArgv: ['--expose-gc'] })
        p.on('message', ok)
      })
      res[m].push(v)
    }
  const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1]
  for (const m of modes) console.log(m.padEnd(14), med(res[m]).toFixed(2), 'µs', res[m].map((x) => x.toFixed(1)).join(' '))
  process.exit(0)
}
class FakeRequest extends EventEmitter {
  method = 'GET'
  url = '/x'
  httpVersionMajor = 1
  socket = new EventEmitter()
}
class FakeResponse extends EventEmitter {
  writableEnded = false
  socket = {}
  end() {
    this.writableEnded = true
    queueMicrotask(() => this.emit('close'))
  }
}
const runtime = createRuntime({ logger: { debug() {}, info() {}, warn() {}, error() {} } })
const binding = requestBinding({ name: 'req', namespace: 'bench', adapter: 'bench', install: 'bench', request: (t) => t.raw })
const proto = Object.defineProperties({}, binding.accessors)
const call = async (v) => {
  await null
  return v
}
const noop = { clientGone() {}, completed() {} }
async function handler(target, req, res) {
  if (mode === 'watch') watchResponse(req, res, noop)
  else if (mode === 'group') {
    const g = new TaskGroup()
    res.once('close', () => {
      g.cancel()
      g.close()
    })
  } else if (mode === 'rtgroup') runtime.requestGroup(req, res)
  else if (mode === 'rtgroupopts') runtime.requestGroup(req, res, {})
  else if (mode === 'getter') void target.taskGroup
  const [a, b, c] = await Promise.all([call(1), call(2), call(3)])
  res.end(String(a + b + c))
}
async function one() {
  const req = new FakeRequest()
  const res = new FakeResponse()
  const target = Object.create(proto)
  target.raw = req
  binding.mount(target, runtime, res)
  return mode === 'noscope' ? handler(target, req, res) : binding.run(target, () => handler(target, req, res))
}
async function batch(n) {
  for (let i = 0; i < n; i += 50) {
    const all = []
    for (let j = 0; j < 50; j++) all.push(one())
    await Promise.all(all)
  }
  await new Promise((r) => setImmediate(r))
}
const count = Number(countArg)
await batch(5000)
gc()
const t = process.cpuUsage()
await batch(count)
gc()
const u = process.cpuUsage(t)
process.send((u.user + u.system) / count)
process.exit(0)
