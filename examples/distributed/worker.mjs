/**
 * A worker process: runs newsletter jobs from the queue, two at a time, whichever process added
 * them. It needs no HTTP server. On SIGTERM/SIGINT it stops taking jobs, lets running ones finish
 * for up to 5 s, hands the rest back to the queue for another worker, and prints its report.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node examples/distributed/worker.mjs
 *
 * (`node examples/distributed/start.mjs` starts two of them, a producer and, if needed, the store.)
 */
import closeWithGrace from 'close-with-grace'
import { newsletterQueue, sendNewsletter } from './newsletter.mjs'

const backgroundTasks = newsletterQueue({
  tasks: [sendNewsletter],
  concurrency: 2,
  onError: (error, task) => console.error(`${task ? `job ${task.id} failed` : 'queue trouble'}:`, error.message),
})

async function shutdown() {
  const report = await backgroundTasks.shutdown({ timeout: 5_000 })
  console.log(`shut down: ${JSON.stringify(report)}`)
}

closeWithGrace({ delay: 10_000 }, shutdown)
// Started by start.mjs: if it goes away without stopping us, stop too.
process.once('disconnect', () => shutdown().then(() => process.exit(0)))

await backgroundTasks.ready() // fails fast, naming the connection, when the store is down
console.log(`ready: running "${sendNewsletter.name}" jobs from queue "${backgroundTasks.queueName}"`)
process.send?.({ ready: true })
