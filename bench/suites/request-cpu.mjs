// Per-request CPU of the request path, in process (fake req/res, no sockets): the floor a
// hand-written handler pays for cancellation, and what the request group costs over it. Stable on
// a noisy machine where req/s is not, so it is the one to watch while cutting. Each variant runs in
// a fresh process per round (variants alternate, order rotated); ratios are medians of per-round
// ratios. The fixture documents the variants.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { median, spread } from '../lib/stats.mjs'

export const name = 'request-cpu'

const child = fileURLToPath(new URL('../fixtures/request-cpu-child.mjs', import.meta.url))

const variants = [
  { key: 'bare', label: 'hand-written Promise.all, no cancellation' },
  { key: 'floor', label: 'floor: one AbortController per request, aborted on res close, + Promise.all' },
  { key: 'own', label: 'request group, 3 × createTask((signal) => …)' },
  { key: 'shared', label: 'request group, 3 tasks sharing group.signal' },
  { key: 'unused', label: 'request group created but unused, + Promise.all' },
  { key: 'own-unscoped', label: 'request group, 3 × (signal) => …, currentTaskGroup() scope not entered' },
  { key: 'current', label: 'request group found with currentTaskGroup(), 3 × (signal) => …' },
  { key: 'signal-on', label: 'request group, 3 × (signal) => …, currentSignal() scopes on (a scope per task)' },
  { key: 'signal-used', label: 'request group, 3 × () => call(currentSignal()), scopes on' },
]

// Which ratios the report shows: [variant, baseline, target, limit].
const comparisons = [
  ['bare', 'floor', undefined],
  ['floor', 'floor', undefined],
  ['own', 'floor', 2],
  ['shared', 'floor', undefined],
  ['unused', 'floor', 1.25],
  ['own', 'own-unscoped', 1.05, 'scope entered vs not (what currentTaskGroup() support costs)'],
  ['current', 'own', undefined, 'group found with currentTaskGroup() vs req.taskGroup'],
  ['signal-on', 'own', undefined, 'per-task scopes on vs off: what enableCurrentSignal() costs 3 tasks'],
  ['signal-used', 'own', undefined, 'each call reads currentSignal() vs is handed its signal'],
]

function measure(variant, count) {
  return new Promise((resolve, reject) => {
    const proc = fork(child, [variant, String(count)], {
      execPath: process.execPath,
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let result
    proc.on('message', (m) => (result = m.usPerRequest))
    proc.on('exit', (code) => (result === undefined ? reject(new Error(`${variant} exited with ${code}`)) : resolve(result)))
  })
}

export async function run({ quick, log }) {
  // Enough requests per process to measure the steady state: at 30,000 the optimising compiler
  // and the final collection still weighed several µs per request on Node 24.
  const rounds = quick ? 1 : 5
  const count = quick ? 500 : 200_000
  const perRound = new Map(variants.map((v) => [v.key, []]))
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const { key } = variants[(i + round) % variants.length]
      perRound.get(key).push(await measure(key, count))
    }
    log?.(`round ${round + 1}/${rounds}`)
  }
  const label = (key) => variants.find((v) => v.key === key).label
  return comparisons.map(([key, base, limit, what]) => {
    const values = perRound.get(key)
    const baseline = perRound.get(base)
    const ratio = median(values.map((v, i) => v / baseline[i]))
    return {
      suite: name,
      case: `3 async calls per request, ${count.toLocaleString('en')} requests × ${rounds} rounds`,
      impl: what === undefined ? label(key) : `${label(key)} (${what})`,
      value: median(values),
      unit: 'µs CPU/request',
      ratio,
      vs: label(base),
      spread: spread(values),
      ...(limit === undefined ? {} : { target: `≤ ${limit}×`, met: ratio <= limit }),
    }
  })
}
