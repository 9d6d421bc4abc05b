#!/usr/bin/env node
// Bytes allocated per request by allocation site, from two sampling heap profiles
// (http-cost.mjs --alloc-prof), side by side, largest difference first:
//
//   node bench/scripts/allocations.mjs A.heapprofile B.heapprofile REQUESTS [TOP]
//
// REQUESTS: how many requests each server handled (warm-up included), to divide by.
import { readFileSync } from 'node:fs'

const [a, b, requests, top = '30'] = process.argv.slice(2)
const n = Number(requests)

/** Self bytes per allocation site (function, file:line) of a sampling heap profile. */
function sites(file) {
  const out = new Map()
  const visit = (node) => {
    const f = node.callFrame
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`
    const bytes = node.selfSize ?? 0
    if (bytes > 0) out.set(key, (out.get(key) ?? 0) + bytes)
    for (const child of node.children ?? []) visit(child)
  }
  visit(JSON.parse(readFileSync(file, 'utf8')).head)
  return out
}

const A = sites(a)
const B = sites(b)
const total = (m) => [...m.values()].reduce((s, x) => s + x, 0) / n
console.log(`bytes/request: ${total(A).toFixed(0)} → ${total(B).toFixed(0)}`)
const rows = [...new Set([...A.keys(), ...B.keys()])].map((k) => [k, (A.get(k) ?? 0) / n, (B.get(k) ?? 0) / n])
rows.sort((p, q) => Math.abs(q[2] - q[1]) - Math.abs(p[2] - p[1]))
for (const [k, x, y] of rows.slice(0, Number(top))) {
  console.log(`${(y - x).toFixed(0).padStart(7)} ${x.toFixed(0).padStart(7)} ${y.toFixed(0).padStart(7)}  ${k}`)
}
