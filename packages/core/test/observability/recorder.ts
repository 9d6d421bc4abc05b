// Subscribes to taskscope's diagnostics channels for one test and records what they publish.
import diagnostics from 'node:diagnostics_channel'

export type TraceEvent = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error'
export interface Recorded {
  event: TraceEvent
  context: Record<string, any>
  /** What the context held at the time of the event (the context object is mutated as the work goes on). */
  snapshot: Record<string, unknown>
}

const events: TraceEvent[] = ['start', 'end', 'asyncStart', 'asyncEnd', 'error']

/** Records every event of the TracingChannel `name` until `stop()`. */
export function recordTracing(name: string): { records: Recorded[]; stop(): void } {
  const channel = diagnostics.tracingChannel(name)
  const records: Recorded[] = []
  const handlers = Object.fromEntries(
    events.map((event) => [event, (context: any) => records.push({ event, context, snapshot: { ...context } })]),
  ) as any
  channel.subscribe(handlers)
  return { records, stop: () => channel.unsubscribe(handlers) }
}

/** Records every message of the channel `name` until `stop()`. */
export function recordChannel(name: string): { messages: any[]; stop(): void } {
  const messages: any[] = []
  const handler = (message: unknown): void => void messages.push(message)
  diagnostics.subscribe(name, handler)
  return { messages, stop: () => diagnostics.unsubscribe(name, handler) }
}

/** The sub-channels of the TracingChannel `name` (the same objects taskscope publishes on). */
export function subChannels(name: string): diagnostics.Channel[] {
  return events.map((event) => diagnostics.channel(`tracing:${name}:${event}`))
}
