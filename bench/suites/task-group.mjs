// Suite 1: task groups. First the task-path yardstick (10,000 tasks whose work adds and removes an
// abort listener, TaskGroup against a hand loop, a GC before every timed call); then 10,000 trivial
// tasks, and 1,000 concurrent groups of 10 tasks, through TaskGroup and through the alternatives
// doing the same job (start every task with a way to cancel it, wait for all of them, collect the results).
import { currentSignal, TaskGroup } from '@taskscope/core'
import { enableCurrentSignal } from '@taskscope/core/adapter'
import { Effect } from 'effect'
import { call, run as effectionRun, spawn } from 'effection'
import pLimit from 'p-limit'
import { compare, roundRatio } from '../lib/micro.mjs'

export const name = 'task-group'

/** The trivial task: an async function that returns at once (one promise, one microtask). */
async function trivial(_signal) {
  return 1
}

// ---- one job = N tasks, joined --------------------------------------------------------------

/** Hand-written: each task gets its own AbortController, joined with Promise.all. */
function handLoop(n) {
  const promises = new Array(n)
  for (let i = 0; i < n; i++) {
    const controller = new AbortController()
    promises[i] = trivial(controller.signal)
  }
  return Promise.all(promises)
}

/** Bare Promise.all, every task given the same signal. */
function sharedSignal(n) {
  const controller = new AbortController()
  const promises = new Array(n)
  for (let i = 0; i < n; i++) promises[i] = trivial(controller.signal)
  return Promise.all(promises)
}

/** TaskGroup, work that declares no parameter (shares the group's signal; see core README "Costs"). */
async function groupShared(n) {
  const group = new TaskGroup()
  const tasks = new Array(n)
  for (let i = 0; i < n; i++) tasks[i] = group.createTask(() => trivial())
  const results = await Promise.all(tasks)
  await group.close()
  return results
}

/** TaskGroup, work declared as (signal) => …: every task gets its own AbortSignal. */
async function groupOwn(n) {
  const group = new TaskGroup()
  const tasks = new Array(n)
  for (let i = 0; i < n; i++) tasks[i] = group.createTask((signal) => trivial(signal))
  const results = await Promise.all(tasks)
  await group.close()
  return results
}

/** TaskGroup joined by close() only, results not collected (no promise per task). */
async function groupJoinOnly(n) {
  const group = new TaskGroup()
  for (let i = 0; i < n; i++) group.createTask(() => trivial())
  await group.close()
}

/** p-limit with no limit, one shared signal. */
function pLimitJob(n) {
  const controller = new AbortController()
  const limit = pLimit(Number.POSITIVE_INFINITY)
  const promises = new Array(n)
  for (let i = 0; i < n; i++) promises[i] = limit(() => trivial(controller.signal))
  return Promise.all(promises)
}

/** Effection 4: spawn every child in a scope, then join each. */
function effectionJob(n) {
  return effectionRun(function* () {
    const tasks = new Array(n)
    for (let i = 0; i < n; i++) tasks[i] = yield* spawn(() => call(() => trivial()))
    const results = new Array(n)
    for (let i = 0; i < n; i++) results[i] = yield* tasks[i]
    return results
  })
}

/** Effect 4: Effect.all with unbounded concurrency over promise-backed effects. */
function effectJob(n) {
  const effects = new Array(n)
  for (let i = 0; i < n; i++) effects[i] = Effect.promise(() => trivial())
  return Effect.runPromise(Effect.all(effects, { concurrency: 'unbounded' }))
}

// ---- the task-path yardstick: work that reads its signal --------------------------------------
// A hand loop whose signal nobody reads is optimised to almost nothing on Node 24 and measures
// nothing useful. This work does what `fetch` does with a signal: one abort listener added, one
// microtask, the listener removed.

function onAbort() {}

/** Adds one abort listener, awaits one microtask, removes the listener. */
async function listenerWork(signal) {
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    await undefined
    return 1
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** Hand loop: each task its own AbortController, the listener work, joined with Promise.all. */
function handListenerLoop(n) {
  const promises = new Array(n)
  for (let i = 0; i < n; i++) {
    const controller = new AbortController()
    promises[i] = listenerWork(controller.signal)
  }
  return Promise.all(promises)
}

/** TaskGroup, `(signal) => listenerWork(signal)`: every task its own signal, joined with Promise.all. */
async function groupListener(n) {
  const group = new TaskGroup()
  const tasks = new Array(n)
  for (let i = 0; i < n; i++) tasks[i] = group.createTask((signal) => listenerWork(signal))
  const results = await Promise.all(tasks)
  await group.close()
  return results
}

/**
 * The same, the tasks created by a task of the group: its `currentTaskGroup()` scope is already
 * current, so no task enters it (what a request group's tasks, created in the handler, do).
 */
async function groupListenerInScope(n) {
  const group = new TaskGroup()
  const results = await group.createTask(() => {
    const tasks = new Array(n)
    for (let i = 0; i < n; i++) tasks[i] = group.createTask((signal) => listenerWork(signal))
    return Promise.all(tasks)
  })
  await group.close()
  return results
}

const listenerImplementations = [
  { key: 'hand', label: 'Promise.all + AbortController per task (hand loop)', job: handListenerLoop },
  { key: 'tgOwn', label: 'TaskGroup, (signal) => work (own signal)', job: groupListener },
  {
    key: 'tgScoped',
    label: "TaskGroup, (signal) => work, created in the group's scope (no scope entry per task)",
    job: groupListenerInScope,
  },
]

/** The task-path goal: TaskGroup ≤ 1.5× the hand loop, a full GC before every timed call. */
async function listenerRows({ quick }) {
  const size = quick ? 200 : 10_000
  const shape = `${size.toLocaleString('en-US')} tasks, work adds + removes one abort listener, GC before each call${quick ? ' (quick)' : ''}`
  const budget = quick
    ? { rounds: 1, time: 20, iterations: 2, warmupTime: 10, warmupIterations: 1, gcBeforeEach: true }
    : { rounds: 9, time: 200, iterations: 3, warmupTime: 100, warmupIterations: 2, gcBeforeEach: true }
  const results = await compare(
    listenerImplementations.map((impl) => ({ name: impl.key, fn: () => impl.job(size) })),
    budget,
  )
  return listenerImplementations.map((impl) => {
    const row = {
      suite: name,
      case: shape,
      impl: impl.label,
      value: (results.get(impl.key).ms * 1000) / size,
      unit: 'µs/task',
      ratio: roundRatio(results, impl.key, 'hand'),
      vs: 'hand loop',
      spread: results.get(impl.key).spread,
    }
    if (impl.key === 'tgOwn') {
      row.target = '≤ 1.5× (the task-path goal)'
      row.met = row.ratio <= 1.5
    } else if (impl.key === 'tgScoped') row.target = 'report (what the scope entry per task costs)'
    return row
  })
}

// ---- jobs: many small groups ----------------------------------------------------------------

/** `groups` concurrent jobs of `size` tasks each, e.g. 1,000 requests fanning out 10 calls. */
const many = (job, groups, size) => () => {
  const all = new Array(groups)
  for (let g = 0; g < groups; g++) all[g] = job(size)
  return Promise.all(all)
}

const implementations = [
  { key: 'hand', label: 'Promise.all + AbortController per task (hand loop)', job: handLoop },
  { key: 'shared', label: 'Promise.all + one shared AbortController', job: sharedSignal },
  { key: 'tg', label: 'TaskGroup, () => work (shares group signal)', job: groupShared },
  { key: 'tgOwn', label: 'TaskGroup, (signal) => work (own signal)', job: groupOwn },
  { key: 'tgJoin', label: 'TaskGroup, () => work, join by close() only', job: groupJoinOnly },
  { key: 'plimit', label: 'p-limit(Infinity) + one shared AbortController', job: pLimitJob },
  { key: 'effection', label: 'Effection 4 spawn + join', job: effectionJob, slow: true },
  { key: 'effect', label: 'Effect 4 Effect.all unbounded', job: effectJob, slow: true },
]

export async function run({ quick }) {
  const shapes = quick
    ? [
        { label: '200 tasks (quick)', groups: 1, size: 200 },
        { label: '20 × 10-task groups (quick)', groups: 20, size: 10 },
      ]
    : [
        { label: '10,000 tasks, one group', groups: 1, size: 10_000 },
        { label: '1,000 × 10-task groups', groups: 1_000, size: 10 },
      ]
  const budget = quick
    ? { rounds: 1, time: 20, iterations: 2, warmupTime: 10, warmupIterations: 1 }
    : { rounds: 5, time: 300, iterations: 3, warmupTime: 100, warmupIterations: 2 }
  // Effection takes ~1-2 s per 10,000 tasks here: fewer rounds, one iteration each.
  const slow = quick ? budget : { time: 1, iterations: 1, warmupTime: 1, warmupIterations: 1, warmupFirstRoundOnly: true }
  const rows = await listenerRows({ quick })
  for (const shape of shapes) {
    const tasks = shape.groups * shape.size
    const cases = implementations.map((impl) => ({
      name: impl.key,
      fn: shape.groups === 1 ? () => impl.job(shape.size) : many(impl.job, shape.groups, shape.size),
      ...(impl.slow && !quick ? { rounds: 3, options: slow } : {}),
    }))
    const results = await compare(cases, budget)
    const us = (key) => (results.get(key).ms * 1000) / tasks
    const label = (key) => implementations.find((i) => i.key === key).label
    for (const impl of implementations) {
      const row = {
        suite: name,
        case: shape.label,
        impl: impl.label,
        value: us(impl.key),
        unit: 'µs/task',
        ratio: roundRatio(results, impl.key, 'hand'),
        vs: 'hand loop',
        spread: results.get(impl.key).spread,
      }
      // Work that ignores its signal measures little on Node 24: reported; the goal is judged on the listener rows.
      if (impl.key === 'tg' || impl.key === 'tgOwn') row.target = 'report (goal judged on the listener row)'
      rows.push(row)
    }
    for (const key of ['tg', 'tgOwn']) {
      rows.push({
        suite: name,
        case: shape.label,
        impl: label(key),
        value: us(key),
        unit: 'µs/task',
        ratio: roundRatio(results, key, 'shared'),
        vs: 'Promise.all, one shared AbortController',
        target: 'report; work down',
      })
    }
    const speedup = roundRatio(results, 'effection', 'tg')
    rows.push({
      suite: name,
      case: shape.label,
      impl: 'Effection time ÷ TaskGroup time',
      value: us('effection'),
      unit: 'µs/task',
      ratio: speedup,
      vs: label('tg'),
      target: '≥ 10×',
      met: speedup >= 10,
    })
  }
  // Last: turning the per-task scopes on is for the rest of the process.
  rows.push(...(await scopedRows({ quick })))
  return rows
}

// ---- the same yardstick with currentSignal() in use ---------------------------------------------

/** TaskGroup, zero-parameter work that reads its signal with currentSignal(), as an interceptor does. */
async function groupCurrentSignal(n) {
  const group = new TaskGroup()
  const tasks = new Array(n)
  for (let i = 0; i < n; i++) tasks[i] = group.createTask(() => listenerWork(currentSignal()))
  const results = await Promise.all(tasks)
  await group.close()
  return results
}

const scopedImplementations = [
  { key: 'hand', label: 'Promise.all + AbortController per task (hand loop)', job: handListenerLoop },
  { key: 'tgOwn', label: 'TaskGroup, (signal) => work, currentSignal() scopes on (a scope per task)', job: groupListener },
  { key: 'tgCurrent', label: 'TaskGroup, () => work(currentSignal()), scopes on', job: groupCurrentSignal },
]

/** The task-path yardstick after enableCurrentSignal(): what a scope per task costs. */
async function scopedRows({ quick }) {
  enableCurrentSignal()
  const size = quick ? 200 : 10_000
  const shape = `${size.toLocaleString('en-US')} tasks, work adds + removes one abort listener, GC before each call, currentSignal() in use${quick ? ' (quick)' : ''}`
  const budget = quick
    ? { rounds: 1, time: 20, iterations: 2, warmupTime: 10, warmupIterations: 1, gcBeforeEach: true }
    : { rounds: 9, time: 200, iterations: 3, warmupTime: 100, warmupIterations: 2, gcBeforeEach: true }
  const results = await compare(
    scopedImplementations.map((impl) => ({ name: impl.key, fn: () => impl.job(size) })),
    budget,
  )
  return scopedImplementations
    .filter((impl) => impl.key !== 'hand')
    .map((impl) => ({
      suite: name,
      case: shape,
      impl: impl.label,
      value: (results.get(impl.key).ms * 1000) / size,
      unit: 'µs/task',
      ratio: roundRatio(results, impl.key, 'hand'),
      vs: 'hand loop',
      spread: results.get(impl.key).spread,
      target: 'report',
    }))
}
