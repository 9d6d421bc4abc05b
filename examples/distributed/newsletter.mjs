/**
 * The newsletter job, shared by the producer and the workers (every process imports this module):
 * a `defineTask()` task, so that only its name and JSON data travel through the store, and the
 * registry every process of the app creates, on the same store (Redis, or PostgreSQL when
 * DATABASE_URL is set) and queue. Each process says what
 * it runs: the producer `concurrency: 0` (it only adds, reads and cancels), the workers their
 * `tasks` and `concurrency`.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { BullmqBackgroundTasks } from '@taskscope/bullmq'
import { defineTask } from '@taskscope/core'

/** The name this process prints in front of its lines (the workers get theirs from start.mjs). */
export const processName = process.env.PROCESS_NAME ?? `pid ${process.pid}`

/**
 * Sends `subject` to `recipients` subscribers, `msPerEmail` each (a fake send: an SMTP or API call
 * in real life). It honours its signal between and during sends: a cancel from any process, or
 * this worker shutting down, stops it promptly.
 */
export const sendNewsletter = defineTask('newsletter.send', async ({ subject, recipients, msPerEmail = 100 }, signal) => {
  console.log(`sending "${subject}" to ${recipients} subscribers`)
  let sent = 0
  try {
    for (let i = 1; i <= recipients; i++) {
      await sleep(msPerEmail, undefined, { signal })
      sent++
    }
  } catch (error) {
    const why = signal.aborted ? `${signal.reason.name}${signal.reason.cause ? `: ${signal.reason.cause}` : ''}` : error.message
    console.log(`stopped "${subject}" after ${sent} of ${recipients} emails (${why})`)
    throw error
  }
  console.log(`sent "${subject}" to ${sent} subscribers`)
  return { subject, sent, sentBy: processName }
})

/** The app's background tasks on BullMQ (Redis, or PostgreSQL), with the settings every process shares. */
export function newsletterQueue(options = {}) {
  return new BullmqBackgroundTasks({
    connection: process.env.DATABASE_URL || process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    queue: process.env.QUEUE || 'newsletter-demo',
    ...options,
  })
}
