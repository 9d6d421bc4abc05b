// Per-request CPU of the adapter kit, in process (fake req/res): what currentTaskGroup() support
// costs a request that never calls it. Each variant runs in a fresh process per round (variants
// alternate, order rotated), and ratios are medians of per-round ratios.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { median, spread } from '../lib/stats.mjs'

export const name = 'request-cpu'

const child = fileURLToPath(new URL('../fixtures/request-cpu-child.mjs', import.meta.url))

const variants = [
  { key: 'without-scope', label: 'request group + 2 tasks, no scope entered (as before currentTaskGroup)' },
  { key: 'with-scope', label: 'request group + 2 tasks, scope entered per request (never calls currentTaskGroup)' },
  { key: 'calls-current', label: 'request group + 2 tasks, found with currentTaskGroup()' },
]

function measure(variant, count) {
  return new Promise((resolve, reject) => {
    const proc = fork(child, [variant, String(count)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let result
    proc.on('message', (m) => (result = m.usPerRequest))
    proc.on('exit', (code) => (result === undefined ? reject(new Error(`${variant} exited with ${code}`)) : resolve(result)))
  })
}

export async function run({ quick, log }) {
  const rounds = quick ? 1 : 7
  const count = quick ? 500 : 40_000
  const perRound = new Map(variants.map((v) => [v.key, []]))
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const { key } = variants[(i + round) % variants.length]
      perRound.get(key).push(await measure(key, count))
    }
    log?.(`round ${round + 1}/${rounds}`)
  }
  const base = perRound.get('without-scope')
  return variants.map(({ key, label }) => {
    const values = perRound.get(key)
    const ratio = median(values.map((v, i) => v / base[i]))
    const row = {
      suite: name,
      case: `${process.version}, ${count.toLocaleString('en')} requests × ${rounds} rounds`,
      impl: label,
      value: median(values),
      unit: 'µs CPU/request',
      ratio,
      vs: 'no scope entered',
      spread: spread(values),
    }
    // Node 24's AsyncContextFrame makes entering a store cheap; Node 20 pays a promise hook: reported.
    if (key === 'with-scope') {
      const frames = Number(process.versions.node.split('.')[0]) >= 24
      row.target = frames ? '≤ 1.05×' : 'report (Node 20: promise hook)'
      if (frames) row.met = ratio <= 1.05
    }
    return row
  })
}
