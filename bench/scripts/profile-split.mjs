#!/usr/bin/env node
// Self time per request of two CPU profiles (http-cost.mjs --cpu-prof), grouped by where each
// function lives: taskscope, the app, Fastify, Node's own modules, V8 builtins, the socket write,
// the collector, idle. The profiler samples wall time: under load a syscall (the socket write)
// absorbs preemption, so compare it with the CPU time http-cost.mjs reports before trusting it.
//
//   node bench/scripts/profile-split.mjs A.cpuprofile B.cpuprofile REQUESTS
//
// REQUESTS: how many requests each server handled (warm-up included), to divide by.
import { readFileSync } from 'node:fs'

const [a, b, requests] = process.argv.slice(2)
const n = Number(requests)

/** Where a sampled function lives. */
function category({ functionName, url }) {
  if (functionName === '(idle)') return 'idle'
  if (functionName === '(garbage collector)') return 'collector'
  if (functionName === '(program)') return 'program'
  if (functionName === 'writeUtf8String' || functionName === 'writev' || functionName === 'writeBuffer') return 'socket write'
  if (url.includes('/packages/') || url.includes('@taskscope')) return 'taskscope'
  if (url.includes('/bench/')) return 'app'
  if (url === '') return 'V8 builtins, native'
  if (url.startsWith('node:')) return 'node'
  if (/fastify|find-my-way|avvio|light-my-request/.test(url)) return 'fastify'
  return 'other'
}

function split(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const out = new Map()
  for (let i = 0; i < profile.samples.length; i++) {
    const key = category(nodes.get(profile.samples[i]).callFrame)
    out.set(key, (out.get(key) ?? 0) + (profile.timeDeltas[i + 1] ?? 0))
  }
  return out
}

const A = split(a)
const B = split(b)
console.log(`${'self µs/request'.padEnd(20)} ${'A'.padStart(8)} ${'B'.padStart(8)} ${'B − A'.padStart(8)}`)
for (const key of new Set([...A.keys(), ...B.keys()])) {
  const x = (A.get(key) ?? 0) / n
  const y = (B.get(key) ?? 0) / n
  console.log(`${key.padEnd(20)} ${x.toFixed(2).padStart(8)} ${y.toFixed(2).padStart(8)} ${(y - x).toFixed(2).padStart(8)}`)
}
