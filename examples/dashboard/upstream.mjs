/**
 * A stand-in for the services a dashboard calls (users, posts, stats): a plain node:http server
 * on a local port, so the examples need no outside network. Each answer takes `latency` ms.
 *
 * It counts what happened to every request, so you can see cancellation at work: when the
 * dashboard's client goes away, the upstream requests in flight are aborted (`aborted` goes up)
 * instead of running to completion for nobody.
 */
import { EventEmitter, once } from 'node:events'
import { createServer } from 'node:http'

const users = {
  1: { id: 1, name: 'Ada Lovelace', plan: 'pro' },
  2: { id: 2, name: 'Alan Turing', plan: 'free' },
}

function answer(path) {
  const match = /^\/users\/(\d+)(\/posts|\/stats)?$/.exec(path)
  const user = match && users[match[1]]
  if (!user) return undefined
  if (match[2] === '/posts') return [1, 2, 3].map((n) => ({ id: user.id * 100 + n, title: `${user.name.split(' ')[0]}'s post #${n}` }))
  if (match[2] === '/stats') return { userId: user.id, followers: user.id * 1234, posts: 3 }
  return user
}

/**
 * Starts the upstream on `port` (0: any free port). `latency` (ms) delays every answer.
 * Resolves with `{ url, counts, events, close() }`; `events` emits 'request', 'completed' and
 * 'aborted' with the path, `counts` holds the totals.
 */
export async function startUpstream({ port = 0, latency = 300 } = {}) {
  const counts = { requests: 0, completed: 0, aborted: 0 }
  const events = new EventEmitter()
  const server = createServer((req, res) => {
    counts.requests++
    events.emit('request', req.url)
    const timer = setTimeout(() => {
      const body = answer(req.url)
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body ?? { error: 'not found' }))
    }, latency)
    res.on('close', () => {
      clearTimeout(timer)
      const outcome = res.writableEnded ? 'completed' : 'aborted' // closed before we answered: the caller gave up
      counts[outcome]++
      events.emit(outcome, req.url)
    })
  })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    counts,
    events,
    close() {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
