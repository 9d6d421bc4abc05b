// The demo page in a real browser (Debian's Chromium, driven by playwright-core) against the demo
// started as `node examples/demo/server.mjs` (with the throwaway PostgreSQL it starts): the page
// renders, its charts draw, the "start and abort" button's cancellation reaches the event log as
// "cancelled by disconnect", and the "slow query" button's as "query cancelled on the server".
// With a DATABASE_URL that cannot be reached, the page says the database scenario is off, and why.
import { existsSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closeServer, listenOnLoopback, type NodeProcess, postgresMissing } from '@taskscope/test-support'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { examplePath, runExample, stopExample } from './helpers.ts'

// The functions given to waitForFunction run in the page: `document` is the page's.
declare const document: {
  querySelectorAll(selector: string): ArrayLike<{ getAttribute(name: string): string | null }>
  querySelector(selector: string): { textContent: string | null } | null
}

const executablePath = '/usr/bin/chromium'
// Without Chromium (or PostgreSQL) the tests are skipped on a developer machine; under CI they must
// run (and fail if they cannot).
const missing = process.env.CI
  ? undefined
  : !existsSync(executablePath)
    ? `${executablePath} is missing; apt-get install chromium, or set CI=true to run it`
    : postgresMissing()
const title = missing ? `demo page in Chromium (skipped: ${missing})` : 'demo page in Chromium'

describe.skipIf(missing !== undefined)(title, () => {
  let browser: Browser
  let demo: NodeProcess | undefined

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
  })
  afterAll(async () => {
    await browser?.close()
  })
  afterEach(async () => {
    // SIGTERM, as a user does (the demo stops its PostgreSQL); then what is left, by pid.
    if (demo) await stopExample(demo)
    demo = undefined
  })

  it('renders, draws its charts, and shows browser aborts as "cancelled by disconnect" and "query cancelled on the server"', async () => {
    demo = runExample('demo/server.mjs', { PORT: '0', DATABASE_URL: '' })
    const [, port] = await demo.waitFor(/listening on http:\/\/localhost:(\d+)/)
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } })
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(String(error)))
    await page.goto(`http://127.0.0.1:${port}/`)
    await expect(page.title()).resolves.toBe('taskscope demo')

    // Each chart is drawn: polylines with at least two points once two samples came in.
    for (const id of ['chart-requests', 'chart-pool', 'chart-loop']) {
      await page.waitForFunction(
        (chart) =>
          Array.from(document.querySelectorAll(`#${chart} polyline`)).some(
            (line) => (line.getAttribute('points') ?? '').split(' ').length >= 2,
          ),
        id,
      )
    }
    await page.waitForFunction(() => document.querySelectorAll('#totals tr').length >= 8)
    await expect(page.locator('#tree').textContent()).resolves.toContain('analytics: refresh loop')

    await page.click('#abort-demo')
    const entry = page.locator('#events .ev-disconnect').first()
    await entry.waitFor()
    await expect(entry.textContent()).resolves.toMatch(/request cancelled by disconnect: GET \/slow\/dashboard\/1 \(3 tasks cancelled\)/)
    await page.waitForFunction(() => /cancelled by disconnect\s*1/.test(document.querySelector('#totals')?.textContent ?? ''))

    // The database scenario: on, with the demo's own PostgreSQL; its button aborts a slow query.
    await expect(page.locator('#database').textContent()).resolves.toMatch(/^Database scenario on: /)
    await page.locator('#query-abort-demo:enabled').waitFor()
    await page.click('#query-abort-demo')
    const cancelled = page.locator('#events .ev-query-cancel').first()
    await cancelled.waitFor()
    await expect(cancelled.textContent()).resolves.toMatch(
      /query cancelled on the server: backend \d+ after \d+ ms \(client disconnected\): select pg_sleep\(\$1\), now\(\) as finished_at$/,
    )
    await page.waitForFunction(() => /cancelled by disconnect\s*2/.test(document.querySelector('#totals')?.textContent ?? ''))

    // The README's screenshot: refreshed with UPDATE_SCREENSHOT=1, else written to the temp dir.
    const path = process.env.UPDATE_SCREENSHOT ? examplePath('demo/screenshot.png') : join(tmpdir(), 'taskscope-demo.png')
    await page.screenshot({ path, fullPage: true })
    expect(existsSync(path)).toBe(true)
    expect(errors).toEqual([])
    await page.close()
  })

  it('says on the page why the database scenario is off, and disables its button', async () => {
    // A DATABASE_URL whose server closes every connection at once: not PostgreSQL.
    const closing = net.createServer((socket) => socket.destroy())
    const port = await listenOnLoopback(closing)
    try {
      demo = runExample('demo/server.mjs', { PORT: '0', DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres` })
      const [, demoPort] = await demo.waitFor(/listening on http:\/\/localhost:(\d+)/)
      await demo.waitFor(/^Database scenario off: DATABASE_URL cannot be reached: /m)
      const page = await browser.newPage()
      await page.goto(`http://127.0.0.1:${demoPort}/`)
      await page.waitForFunction(() => /^Database scenario off: /.test(document.querySelector('#database')?.textContent ?? ''))
      await expect(page.locator('#database').textContent()).resolves.toMatch(
        /^Database scenario off: DATABASE_URL cannot be reached: .+\.$/,
      )
      await expect(page.locator('#query-abort-demo').isDisabled()).resolves.toBe(true)
      await page.close()
    } finally {
      await closeServer(closing)
    }
  })
})
