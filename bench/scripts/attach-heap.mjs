#!/usr/bin/env node
// What `runtime.attach(server)` keeps per response: 3,000 connections, each pipelining two GETs
// that are never answered (the second response stays queued and never emits 'close'), destroyed
// mid-flight; prints the heap after GC, after minus before, with and without attach.
//
//   node --expose-gc bench/scripts/attach-heap.mjs
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import { createRuntime } from '@taskscope/core'

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')

async function heapAfterGc() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return process.memoryUsage().heapUsed / 2 ** 20
}

async function measure(attach, connections = 3_000) {
  const runtime = createRuntime({ logger: { info() {}, warn() {}, error() {} } })
  let arrived
  const server = http.createServer((req) => {
    if (req.url === '/second') arrived(req.socket) // neither request is ever answered
  })
  if (attach) runtime.attach(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  const storm = async (count) => {
    for (let i = 0; i < count; i++) {
      const reached = new Promise((resolve) => (arrived = resolve))
      const client = net.connect(port, '127.0.0.1')
      client.on('error', () => {})
      await once(client, 'connect')
      client.write('GET /first HTTP/1.1\r\nHost: t\r\n\r\nGET /second HTTP/1.1\r\nHost: t\r\n\r\n')
      const serverSide = await reached
      const closed = once(serverSide, 'close')
      client.destroy()
      await closed
    }
  }
  await storm(100) // warm-up
  const before = await heapAfterGc()
  await storm(connections)
  const after = await heapAfterGc()
  server.closeAllConnections()
  server.close()
  await runtime.close({ timeout: 0 })
  return Math.round((after - before) * 100) / 100
}

for (const attach of [true, false]) {
  console.log(`${attach ? 'with attach   ' : 'without attach'}: heap after GC grew by ${await measure(attach)} MB over 3,000 connections`)
}
