/**
 * Parallel processing pipeline (Fastify): POST /pipeline analyses a batch of documents.
 * - Stage 1, I/O: documents are downloaded in parallel, at most `concurrency` at a time (a
 *   `TaskGroup` with a `limit`, nested in the request's group: a client that leaves stops it all).
 * - Stage 2, CPU: each document is analysed on the worker pool as soon as it has arrived.
 * - An `AsyncEvent` coordinates the stages: analysis needs a stop-word list that loads in
 *   parallel with the downloads, so each analysis waits on `stopWordsReady` instead of the whole
 *   batch waiting for it first.
 * - The first failure (try `"failAt": 3`) cancels every other download and analysis.
 *
 *   node examples/pipeline/fastify.mjs
 *   curl -X POST -H 'content-type: application/json' -d '{"documents":12,"concurrency":4}' http://localhost:3000/pipeline
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { AsyncEvent, TaskGroup } from '@taskscope/core'
import { concurrencyPlugin } from '@taskscope/fastify'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'

const vocabulary =
  'the a of and to in is it task group pool event signal cancel request worker thread queue async await node fastify lazy race timeout'.split(
    ' ',
  )

/** Simulates fetching a document over the network: `latency` ms, then a deterministic text. */
async function download(id, latency, signal) {
  await sleep(latency, undefined, { signal })
  let seed = id * 2654435761
  const words = Array.from({ length: 500 }, () => vocabulary[(seed = (seed * 1103515245 + 12345) >>> 0) % vocabulary.length])
  return words.join(' ')
}

/** Simulates loading shared reference data. */
async function loadStopWords(latency, signal) {
  await sleep(latency, undefined, { signal })
  return ['the', 'a', 'of', 'and', 'to', 'in', 'is', 'it']
}

/** Counts the words of a text but the stop words. Self-contained: it is shipped to a pool thread. */
function countWords(text, stopWords) {
  const stop = new Set(stopWords)
  const counts = {}
  for (const word of text.toLowerCase().split(/\W+/)) {
    if (word !== '' && !stop.has(word)) counts[word] = (counts[word] ?? 0) + 1
  }
  return counts
}

const body = {
  type: 'object',
  properties: {
    documents: { type: 'integer', minimum: 1, maximum: 200, default: 12 },
    concurrency: { type: 'integer', minimum: 1, maximum: 50, default: 4 },
    failAt: { type: 'integer', minimum: 1, description: 'make the download of this document fail' },
  },
}

/** The routes, as a Fastify plugin. `latency`: ms per simulated download. */
export async function pipelineRoutes(app, { latency = 100 } = {}) {
  app.post('/pipeline', { schema: { body } }, async (request) => {
    const { documents, concurrency, failAt } = request.body ?? { documents: 12, concurrency: 4 }
    const stopWordsReady = new AsyncEvent()
    let stopWords = []

    const perDocument = await TaskGroup.run(
      async (group) => {
        // Created first, so it takes one of the `limit` slots at once. Created after the documents,
        // it would queue behind analyses that wait for it: with a limit, order matters.
        group.createTask(
          async (signal) => {
            stopWords = await loadStopWords(latency * 2, signal)
            stopWordsReady.set()
          },
          { name: 'stop-words' },
        )
        const analyses = Array.from({ length: documents }, (_, i) =>
          group.createTask(
            async (signal) => {
              const id = i + 1
              if (id === failAt) throw Object.assign(new Error(`document ${id} could not be downloaded`), { statusCode: 502 })
              const text = await download(id, latency, signal) // stage 1: I/O
              await stopWordsReady.wait({ signal }) // wait for the reference data (at once if it is there)
              const counts = await app.threadpool.run(countWords, [text, stopWords], { signal }) // stage 2: CPU
              return { id, words: Object.values(counts).reduce((a, b) => a + b, 0), counts }
            },
            { name: `document ${i + 1}` },
          ),
        )
        return Promise.all(analyses)
      },
      { signal: request.taskGroup.signal, limit: concurrency, name: 'pipeline' },
    )

    // Stage 3: merge the per-document counts.
    const totals = {}
    for (const { counts } of perDocument) for (const [word, n] of Object.entries(counts)) totals[word] = (totals[word] ?? 0) + n
    const topWords = Object.entries(totals)
      .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
      .slice(0, 5)
    return {
      documents,
      concurrency,
      words: perDocument.reduce((sum, d) => sum + d.words, 0),
      topWords: Object.fromEntries(topWords),
      perDocument: perDocument.map(({ id, words }) => ({ id, words })),
    }
  })
}

export async function build({ logger = false, latency } = {}) {
  const app = Fastify({ logger })
  await app.register(concurrencyPlugin)
  await app.register(pipelineRoutes, { latency })
  return app
}

/** Builds and listens; resolves with `{ app, url, close }`. */
export async function start({ port = 3000, host = '127.0.0.1', ...options } = {}) {
  const app = await build(options)
  await app.listen({ port, host })
  return { app, url: `http://${host}:${app.server.address().port}`, close: () => app.close() }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { app, url } = await start({ port: Number(process.env.PORT ?? 3000), logger: { level: 'warn' } })
  closeWithGrace(() => app.close())
  console.log(`Pipeline (Fastify) listening on ${url}
  curl -X POST -H 'content-type: application/json' -d '{"documents":12,"concurrency":4}' ${url}/pipeline
  curl -X POST -H 'content-type: application/json' -d '{"documents":12,"failAt":3}' ${url}/pipeline   # 502: the failure cancels the rest`)
}
