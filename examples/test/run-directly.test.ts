// Every example also runs on its own (`node examples/<scenario>/<framework>.mjs`): it prints its
// URL and curl lines, serves, and shuts down cleanly on SIGTERM (exit code 0).

import { request } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'
import { runExample, stopExample } from './helpers.ts'

const examples: Array<[file: string, path: string]> = [
  ['dashboard/fastify.mjs', '/dashboard/1'],
  ['dashboard/express.mjs', '/dashboard/1'],
  ['dashboard/koa.mjs', '/dashboard/1'],
  ['thumbnails/fastify.mjs', '/nope'],
  ['search/fastify.mjs', '/search?q=node'],
  ['newsletter/fastify.mjs', '/newsletter/status'],
  ['analytics/fastify.mjs', '/analytics/refresh'],
  ['task-manager/fastify.mjs', '/tasks'],
  ['task-manager/express.mjs', '/tasks'],
  ['task-manager/koa.mjs', '/tasks'],
  ['pipeline/fastify.mjs', '/nope'],
  ['resource-manager/fastify.mjs', '/resources'],
  ['demo/server.mjs', '/stats'],
  ['opentelemetry/console.mjs', '/dashboard/1'],
]

describe('examples run directly with node', () => {
  it.concurrent.for(examples)(
    '%s prints its URL and curl lines, serves, and exits 0 on SIGTERM',
    async ([file, path], { onTestFinished }) => {
      const server = runExample(file)
      onTestFinished(async () => {
        await stopExample(server) // the tests run concurrently: each cleans up its own child (and the demo's PostgreSQL)
      })
      const [, url] = await server.waitFor(/listening on (http:\/\/\S+)/)
      await server.waitFor(/curl /)
      const { status } = await request(`${url}${path}`, path === '/analytics/refresh' ? { method: 'POST' } : undefined)
      expect(status).toBe(path === '/nope' ? 404 : 200)
      server.child.kill('SIGTERM')
      expect(await server.exited).toBe(0)
      expect(server.stderr).toBe('')
    },
  )
})
