import type http from 'node:http'
import { createRuntime } from '@taskscope/core'
import { drainingAnswer, shuttingDownAnswer } from '@taskscope/core/adapter'
import { describe, expect, it } from 'vitest'

describe('drainingAnswer', () => {
  it('is undefined until shutdown begins, then the 503 with Retry-After (and Connection: close over HTTP/1 only)', async () => {
    const runtime = createRuntime()
    const h1 = { httpVersionMajor: 1 } as http.IncomingMessage
    expect(drainingAnswer(runtime, h1)).toBeUndefined()
    await runtime.close()
    expect(drainingAnswer(runtime, h1)).toEqual({
      status: 503,
      headers: { 'Retry-After': '1', Connection: 'close', 'Content-Type': 'text/plain; charset=utf-8' },
      body: 'Service Unavailable: the server is shutting down',
    })
    expect(drainingAnswer(runtime, { httpVersionMajor: 2 } as http.IncomingMessage)?.headers).not.toHaveProperty('Connection')
  })
})

describe('shuttingDownAnswer', () => {
  it('is the same 503 the drain of a server answers with: one definition for every path', () => {
    expect(shuttingDownAnswer.status).toBe(503)
    expect(shuttingDownAnswer.headers(1)).toEqual({ 'Retry-After': '1', Connection: 'close' })
    expect(shuttingDownAnswer.headers(2)).toEqual({ 'Retry-After': '1' })
  })
})
