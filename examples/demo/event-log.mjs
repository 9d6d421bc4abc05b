/**
 * The demo page's running event log, fed by taskscope's diagnostics channels: the same channels an
 * APM subscribes to. Nothing here reaches into the runtime: it only listens.
 *
 *   const log = eventLog()
 *   log.since(0)   // [{ seq, at, type, text }]
 *   log.close()    // unsubscribes
 */
import diagnostics from 'node:diagnostics_channel'

const describe = (error) => (error instanceof Error ? error.message : String(error))

/** Why a query was cancelled, in a few words, from its cancellation's code. */
const why = (reason) =>
  ({ ERR_CLIENT_CLOSED_REQUEST: 'client disconnected', ERR_TIMEOUT: 'deadline passed', ERR_SHUTTING_DOWN: 'shutting down' })[
    reason?.code
  ] ?? describe(reason)

/** A query's SQL on one line, at most 60 characters. */
const sql = (text) => {
  const line = (text ?? '(no SQL)').replace(/\s+/g, ' ').trim()
  return line.length > 60 ? `${line.slice(0, 59)}…` : line
}

/** Starts listening; keeps the last `size` entries. */
export function eventLog({ size = 200 } = {}) {
  const entries = []
  let seq = 0
  const add = (type, text) => {
    entries.push({ seq: ++seq, at: Date.now(), type, text })
    if (entries.length > size) entries.shift()
  }

  const subscriptions = {
    'taskscope:request.disconnect': ({ request, tasks }) =>
      add(
        'disconnect',
        `request cancelled by disconnect: ${request.method} ${request.url} (${tasks} task${tasks === 1 ? '' : 's'} cancelled)`,
      ),
    'taskscope:group.cancel': ({ group, source }) => {
      if (source === 'timeout') add('timeout', `request timed out: ${group.name ?? 'task group'}; its tasks were cancelled`)
    },
    'tracing:taskscope:task:error': ({ task, group, kind, error }) => {
      if (kind === 'request') add('failed', `request failed: ${group.name}: ${describe(error)}`)
      else add('failed', `task failed: ${task.name}${group?.name ? ` (${group.name})` : ''}: ${describe(error)}`)
    },
    'tracing:taskscope:background:asyncEnd': ({ task, error, cancelled }) => {
      const how = cancelled ? 'cancelled' : error !== undefined ? `failed: ${describe(error)}` : `done in ${Math.round(task.durationMs)} ms`
      add(cancelled ? 'cancelled' : error !== undefined ? 'failed' : 'done', `job ${how}: ${task.name}`)
    },
    // @taskscope/pg: a query cancelled on the server (a cancel request sent to its backend).
    'taskscope:pg.query.cancel': ({ pid, runningMs, reason, text, outcome, error }) => {
      const after = `backend ${pid} after ${Math.round(runningMs)} ms (${why(reason)}): ${sql(text)}`
      if (error !== undefined) add('failed', `query cancel request not delivered (${describe(error)}): ${after}`)
      else if (outcome === 'cancelled') add('query-cancel', `query cancelled on the server: ${after}`)
      else add('query-cancel', `query ${outcome === 'completed' ? 'finished' : 'failed'} before its cancel request landed: ${after}`)
    },
    'taskscope:pool.worker.crash': ({ task, error }) =>
      add('crash', `worker crashed${task ? ` running ${task}` : ' (idle)'}: ${describe(error)}`),
    'taskscope:shutdown': ({ durationMs, unfinished }) => add('shutdown', `shut down in ${durationMs} ms, ${unfinished.length} unfinished`),
  }
  for (const [name, handler] of Object.entries(subscriptions)) diagnostics.subscribe(name, handler)

  return {
    /** Entries after sequence number `after`, oldest first. */
    since: (after) => entries.filter((entry) => entry.seq > after),
    close() {
      for (const [name, handler] of Object.entries(subscriptions)) diagnostics.unsubscribe(name, handler)
    },
  }
}
