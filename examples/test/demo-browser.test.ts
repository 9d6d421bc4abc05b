// The demo page in a real browser (Debian's Chromium, driven by playwright-core) against the demo
// started as `node examples/demo/server.mjs`: the page renders, its charts draw, and the "start
// and abort" button's cancellation reaches the event log as "cancelled by disconnect".
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NodeProcess } from '@taskscope/test-support'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { examplePath, runExample } from './helpers.ts'

// The functions given to waitForFunction run in the page: `document` is the page's.
declare const document: {
  querySelectorAll(selector: string): ArrayLike<{ getAttribute(name: string): string | null }>
  querySelector(selector: string): { textContent: string | null } | null
}

const executablePath = '/usr/bin/chromium'
// Without Chromium the test is skipped on a developer machine; under CI it must run (and fails if it cannot).
const missing = !existsSync(executablePath) && !process.env.CI
const title = missing
  ? `demo page in Chromium (skipped: ${executablePath} is missing; apt-get install chromium, or set CI=true to run it)`
  : 'demo page in Chromium'

describe.skipIf(missing)(title, () => {
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
    await demo?.close() // SIGKILL by pid, then waits for the exit
    demo = undefined
  })

  it('renders, draws its charts, and shows a browser abort as "cancelled by disconnect"', async () => {
    demo = runExample('demo/server.mjs', { PORT: '0' })
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

    // The README's screenshot: refreshed with UPDATE_SCREENSHOT=1, else written to the temp dir.
    const path = process.env.UPDATE_SCREENSHOT ? examplePath('demo/screenshot.png') : join(tmpdir(), 'taskscope-demo.png')
    await page.screenshot({ path, fullPage: true })
    expect(existsSync(path)).toBe(true)
    expect(errors).toEqual([])
    await page.close()
  })
})
