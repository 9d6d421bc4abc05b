// What the shutdown summary says about the work it cut short, by name. Work the shutdown had to
// cancel at its deadline, or that was still running after the grace, is worth a warning: a
// client got no answer, a job did not finish. Work the app stopped itself while shutting down
// (a refresh loop cancelled in a preClose hook) is not: it ended as the app asked.
import { errorCodes } from '../errors.js'
import type { BackgroundRegistry } from '../primitives/background-registry.js'
import type { BackgroundTask } from '../primitives/background-task.js'
import { type BackgroundShutdownReport, BackgroundTasks } from '../primitives/background-tasks.js'
import type { TaskGroup } from '../primitives/task-group.js'

/**
 * One piece of work a shutdown cut short (see `RuntimeCloseSummary.unfinished`).
 *
 * @example
 * ```ts
 * const { unfinished } = await runtime.close()
 * for (const work of unfinished) console.log(`${work.kind} ${work.name}: ${work.outcome}`)
 * ```
 */
export interface UnfinishedWork {
  /** A request's task group, or a background task. */
  kind: 'request' | 'background'
  /** The request group's name (`'GET /report'`) or the background task's name. */
  name: string
  /**
   * `'cancelled'`: still running at the deadline, cancelled with `ShutdownError`, then ended;
   * `'abandoned'`: still running after the grace that followed.
   */
  outcome: 'cancelled' | 'abandoned'
}

/**
 * The background tasks running as shutdown begins, to tell afterwards which ones it cut short:
 * the embedded registry's own tasks; undefined for another registry (its shutdown report counts
 * what it cut short, as `cancelled`, `abandoned` or, for a distributed one, `requeued`).
 */
export function runningBackgroundTasks(registry: BackgroundRegistry): BackgroundTask[] | undefined {
  if (!(registry instanceof BackgroundTasks)) return undefined
  const running: BackgroundTask[] = []
  for (const { id } of registry.list()) {
    const task = registry.get(id)
    if (task !== undefined) running.push(task)
  }
  return running
}

/** True when the shutdown itself cancelled the task (it did not end on the app's own order). */
function cancelledByShutdown(task: BackgroundTask): boolean {
  return (task.signal.reason as { code?: unknown } | undefined)?.code === errorCodes.shuttingDown
}

/**
 * The work the shutdown cut short: request groups it cancelled at the deadline (`cut`), groups
 * still alive at the end (`live`), and, of the background tasks running when it began, those it
 * cancelled or that are still running.
 */
export function unfinishedWork(
  cut: readonly TaskGroup[],
  live: ReadonlySet<TaskGroup>,
  background: readonly BackgroundTask[],
): UnfinishedWork[] {
  const work: UnfinishedWork[] = []
  for (const group of cut) if (!live.has(group)) work.push({ kind: 'request', name: group.name ?? 'request', outcome: 'cancelled' })
  for (const group of live) work.push({ kind: 'request', name: group.name ?? 'request', outcome: 'abandoned' })
  for (const task of background) {
    if (task.status === 'running') work.push({ kind: 'background', name: task.name, outcome: 'abandoned' })
    else if (task.status === 'cancelled' && cancelledByShutdown(task)) {
      work.push({ kind: 'background', name: task.name, outcome: 'cancelled' })
    }
  }
  return work
}

/** The warning's message: what was cut short, by name (the first few; all of them are in the fields). */
export function unfinishedMessage(unfinished: readonly UnfinishedWork[], unnamed: number): string {
  const shown = 5
  const names = unfinished.slice(0, shown).map(({ kind, name, outcome }) => {
    const what = kind === 'request' ? 'request' : 'background task'
    return `${what} "${name}"${outcome === 'abandoned' ? ' (still running)' : ''}`
  })
  if (unfinished.length > shown) names.push(`${unfinished.length - shown} more`)
  if (unnamed > 0) names.push(`${unnamed} background task${unnamed === 1 ? '' : 's'}`)
  return `shut down; unfinished work was cancelled: ${names.join(', ')}`
}

/** The app registry's report plus the counts of the runtime's own closure registry (`after`, `waitUntil`). */
export function mergeReports<R extends BackgroundShutdownReport>(app: R, own: BackgroundShutdownReport): R {
  return {
    ...app,
    completed: app.completed + own.completed,
    failed: app.failed + own.failed,
    cancelled: app.cancelled + own.cancelled,
    abandoned: app.abandoned + own.abandoned,
  }
}
