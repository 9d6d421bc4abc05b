// The demo behind `npm start`: every Fastify scenario on one port, an HTML page at /, and the
// runtime stats it shows at /stats; with PostgreSQL, a slow query whose aborted request stops it
// on the server, in the event log.
import { existsSync } from 'node:fs'
import net from 'node:net'
import vm from 'node:vm'
import {
  cleanup,
  closeLater,
  closeServer,
  httpRequest,
  listenOnLoopback,
  post,
  postgresMissing,
  request,
  untilRunning,
} from '@taskscope/test-support'
import pg from 'pg'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { alive, example, runExample, type Started, stopExample } from './helpers.ts'

afterEach(cleanup)

async function startDemo(): Promise<Started> {
  const { start } = await example('demo/server.mjs')
  return closeLater(await start({ port: 0, shutdownTimeout: 1_000, analytics: { orders: 10_000 } }))
}

describe('demo server', () => {
  it('serves the live stats page at /, with a script that parses', async () => {
    const { url } = await startDemo()
    const page = await request(`${url}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(page.body).toContain('<title>taskscope demo</title>')
    expect(page.body).toContain("fetch('/stats')")
    const script = /<script type="module">([\s\S]*?)<\/script>/.exec(page.body)![1]!
    expect(() => new vm.Script(script)).not.toThrow()
    // Started without a database: the page is told the scenario is off, and why.
    expect((await request(`${url}/database`)).body).toEqual({
      enabled: false,
      reason: expect.stringMatching(/^the demo was started without a database/),
    })
    expect((await request(`${url}/db/report?seconds=1`)).status).toBe(404)
  })

  it('reports request groups, background tasks and the pool at /stats', async () => {
    const { url } = await startDemo()
    const idle = await request(`${url}/stats`)
    expect(idle.status).toBe(200)
    expect(idle.body).toMatchObject({
      draining: false,
      requests: { active: 0 },
      background: { active: 1 },
      pool: { threads: 0, completed: 0 },
    })
    expect(idle.body.background.tasks).toMatchObject([{ name: 'analytics: refresh loop', status: 'running' }])

    const task = await post(`${url}/tasks`, { name: 'demo', steps: 1000 })
    expect(task.status).toBe(202)
    const busy = await request(`${url}/stats`)
    expect(busy.body.background.active).toBe(2)
    expect(busy.body.background.tasks.map((t: { name: string }) => t.name)).toContain('task: demo')

    const slow = request(`${url}/resources/report?ms=60000`).catch(() => undefined) // cancelled when the demo closes
    await vi.waitFor(async () => expect((await request(`${url}/stats`)).body.requests.active).toBe(1), { interval: 20 })
    void slow

    expect((await request(`${url}/analytics/daily`)).status).toBe(200) // starts the pool
    const pooled = await request(`${url}/stats`)
    expect(pooled.body.pool).toMatchObject({ completed: 1, queued: 0 })
    expect(pooled.body.pool.threads).toBeGreaterThanOrEqual(1)
  })

  it('logs a client that leaves mid-request at /events (from the diagnostics channels) and shows its tasks at /inspect', async () => {
    const { url } = await startDemo()
    const controller = new AbortController()
    const pending = fetch(`${url}/slow/dashboard/1`, { signal: controller.signal }).catch(() => undefined)
    await vi.waitFor(
      async () => {
        const tree = (await request(`${url}/inspect`)).body
        expect(tree.requests).toMatchObject([
          { method: 'GET', url: '/slow/dashboard/1', tasks: [{ name: 'user' }, { name: 'posts' }, { name: 'stats' }] },
        ])
      },
      { interval: 20 },
    )
    controller.abort()
    await pending
    await vi.waitFor(
      async () => expect((await request(`${url}/events`)).body.map((e: { type: string }) => e.type)).toContain('disconnect'),
      {
        interval: 20,
      },
    )
    const [entry] = (await request(`${url}/events`)).body
    expect(entry).toMatchObject({
      seq: 1,
      type: 'disconnect',
      text: 'request cancelled by disconnect: GET /slow/dashboard/1 (3 tasks cancelled)',
    })
    expect((await request(`${url}/events?after=1`)).body).toEqual([])
    const stats = (await request(`${url}/stats`)).body
    expect(stats.requests).toMatchObject({ active: 0, cancelledByDisconnect: 1 })
    expect(stats.eventLoop).toMatchObject({ delay: { p99: expect.any(Number) }, recent: { p99: expect.any(Number) } })
  })

  it("names the resource manager's work in the live tree, rounds durations, and keeps the charts' last minute for a late page", async () => {
    const { url } = await startDemo()
    const slow = request(`${url}/resources/report?ms=60000`).catch(() => undefined) // cancelled when the demo closes
    await vi.waitFor(
      async () =>
        expect((await request(`${url}/inspect`)).body.requests).toMatchObject([
          { url: '/resources/report?ms=60000', tasks: [{ name: 'report query' }] },
        ]),
      { interval: 20 },
    )
    void slow
    const stats = (await request(`${url}/stats`)).body
    for (const task of stats.background.tasks) expect(Number.isInteger(task.durationMs)).toBe(true)
    // Samples are taken by the server, a page or not: a page opened now gets the ones it missed.
    await vi.waitFor(async () => expect((await request(`${url}/history`)).body.length).toBeGreaterThanOrEqual(2), { interval: 50 })
    const samples = (await request(`${url}/history`)).body
    expect(samples[0]).toEqual({
      seq: 1,
      at: expect.any(Number),
      requests: expect.any(Number),
      tasks: expect.any(Number),
      queued: 0,
      running: 0,
      threads: expect.any(Number),
      delayP99: expect.any(Number),
      delayMax: expect.any(Number),
    })
    expect(samples.map((sample: { seq: number }) => sample.seq)).toEqual(samples.map((_: unknown, i: number) => i + 1))
    const last = samples.at(-1).seq
    expect((await request(`${url}/history?after=${last}`)).body.every((sample: { seq: number }) => sample.seq > last)).toBe(true)
  })

  it('mounts every Fastify scenario', async () => {
    const { url } = await startDemo()
    expect((await request(`${url}/dashboard/1`)).body.user.name).toBe('Ada Lovelace')
    expect((await request(`${url}/search?q=demo&fail=primary`)).body.source).toBe('backup')
    expect((await post(`${url}/newsletter`, { subject: 'Hi', recipients: 1 })).status).toBe(202)
    expect((await request(`${url}/newsletter/status`)).status).toBe(200)
    expect((await post(`${url}/pipeline`, { documents: 2 })).status).toBe(200)
    expect((await request(`${url}/resources/report?ms=0`)).status).toBe(200)
    expect((await request(`${url}/tasks`)).status).toBe(200)
    expect((await request(`${url}/thumbnails`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: 'x' })).status).toBe(422)
  })
})

describe('demo server, run with npm start', () => {
  it('prints one clear line and exits 1 when its port is taken', async () => {
    const taken = net.createServer()
    const port = await listenOnLoopback(taken)
    closeLater({ close: () => closeServer(taken) })
    // Stopped with SIGTERM, as a user does: its shutdown stops the PostgreSQL it started.
    const demo = runExample('demo/server.mjs', { PORT: String(port) })
    closeLater({ close: () => stopExample(demo) })
    expect(await demo.exited).toBe(1)
    expect(demo.stdout).toBe('')
    expect(demo.stderr).toBe(
      `taskscope demo: port ${port} is already in use. Stop what uses it, or choose another port: PORT=${port + 1} npm start\n`,
    )
  })

  it('prints thumbnail curl lines that work from a fresh clone: the sample photo they post is served by the demo', async () => {
    const demo = runExample('demo/server.mjs')
    closeLater({ close: () => stopExample(demo) })
    const [getLine, sampleUrl, photo] = await demo.waitFor(/curl -s (\S+\/thumbnails\/sample\.jpg) -o (\S+)/)
    const [postLine, file, thumbnailsUrl] = await demo.waitFor(
      /curl -s --data-binary @(\S+) -H 'content-type: image\/jpeg' '(\S+\/thumbnails\?width=128)' -o thumb\.png/,
    )
    expect(file).toBe(photo) // the POST sends the file the line before it downloaded
    expect(demo.stdout.indexOf(getLine!)).toBeLessThan(demo.stdout.indexOf(postLine!))

    const sample = await fetch(sampleUrl!)
    expect(sample.status).toBe(200)
    expect(sample.headers.get('content-type')).toBe('image/jpeg')
    const bytes = Buffer.from(await sample.arrayBuffer())
    const thumbnail = await fetch(thumbnailsUrl!, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: bytes })
    expect(thumbnail.status).toBe(200)
    expect(thumbnail.headers.get('content-type')).toBe('image/png')
    expect(thumbnail.headers.get('x-original-size')).toBe('1200x800')
    expect(thumbnail.headers.get('x-thumbnail-size')).toBe('128x85')
  })
})

// Without PostgreSQL's server binaries these are skipped on a developer machine; under CI they must run.
const noPostgres = process.env.CI ? undefined : postgresMissing()

describe.skipIf(noPostgres !== undefined)(`demo server with PostgreSQL${noPostgres ? ` (skipped: ${noPostgres})` : ''}`, () => {
  it('logs a query cancelled on the server when its request is aborted over a real socket; the backend is idle; close() stops PostgreSQL', {
    timeout: 60_000,
  }, async () => {
    const { start } = await example('demo/server.mjs')
    const demo: Started = await start({ port: 0, shutdownTimeout: 1_000, analytics: { orders: 10_000 }, postgres: true })
    const stopDemo = closeLater(demo)
    expect(demo.database).toEqual({ enabled: true })
    const { pid: postgresPid, dir, url: databaseUrl } = demo.postgres
    expect(alive(postgresPid)).toBe(true)
    expect((await request(`${demo.url}/database`)).body).toEqual({ enabled: true })
    // Another connection, the test's own, watches the server.
    const observer = new pg.Client({ connectionString: databaseUrl })
    await observer.connect()
    closeLater({ close: () => observer.end() }, 'client')

    const call = httpRequest(Number(new URL(demo.url).port), { path: '/db/report?seconds=30' })
    const [running] = await untilRunning(observer, 'select pg_sleep($1)')
    const backend = running!.pid
    call.req.destroy()

    const entry = await vi.waitFor(
      async () => {
        const entries: Array<{ type: string; text: string }> = (await request(`${demo.url}/events`)).body
        const found = entries.find((e) => e.type === 'query-cancel')
        expect(found).toBeDefined()
        return found!
      },
      { interval: 20, timeout: 10_000 },
    )
    expect(entry.text).toMatch(
      new RegExp(
        `^query cancelled on the server: backend ${backend} after \\d+ ms \\(client disconnected\\): select pg_sleep\\(\\$1\\), now\\(\\) as finished_at$`,
      ),
    )
    expect((await request(`${demo.url}/events`)).body.map((e: { text: string }) => e.text)).toContain(
      'request cancelled by disconnect: GET /db/report?seconds=30 (0 tasks cancelled)',
    )
    // Published once the query ended on the server: its backend is idle, seen from another connection.
    const { rows } = await observer.query('select state from pg_stat_activity where pid = $1', [backend])
    expect(rows).toEqual([{ state: 'idle' }])
    // A report that completes is answered, and logs no cancellation.
    expect((await request(`${demo.url}/db/report?seconds=0.05`)).body).toHaveProperty('finishedAt')
    const types = (await request(`${demo.url}/events`)).body.map((e: { type: string }) => e.type)
    expect(types.filter((type: string) => type === 'query-cancel')).toHaveLength(1)

    await observer.end()
    await stopDemo.close()
    expect(alive(postgresPid)).toBe(false)
    expect(existsSync(dir)).toBe(false)
  })

  it('says why the database scenario is off when DATABASE_URL cannot be reached, and starts anyway', async () => {
    // A server that closes every connection at once: not PostgreSQL.
    const closing = net.createServer((socket) => socket.destroy())
    const port = await listenOnLoopback(closing)
    closeLater({ close: () => closeServer(closing) })
    const { start } = await example('demo/server.mjs')
    const demo: Started = closeLater(await start({ port: 0, databaseUrl: `postgres://postgres@127.0.0.1:${port}/postgres` }))
    expect(demo.database).toEqual({ enabled: false, reason: expect.stringMatching(/^DATABASE_URL cannot be reached: /) })
    expect((await request(`${demo.url}/database`)).body).toEqual(demo.database)
    expect((await request(`${demo.url}/db/report?seconds=1`)).status).toBe(404)
    expect((await request(`${demo.url}/stats`)).status).toBe(200)
  })
})
