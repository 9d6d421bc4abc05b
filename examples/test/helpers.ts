// Helpers shared by the examples' smoke tests. Everything is event driven (deferreds, events,
// child-process output); `cleanup()` in `afterEach` closes every server and child left behind.
import { type ChildProcess, spawn } from 'node:child_process'
import type { EventEmitter } from 'node:events'
import { fileURLToPath } from 'node:url'


/** What every example's `start()` resolves with (plus framework objects). */
export interface Started {
  url: string
  close(): Promise<unknown>
  [key: string]: any
}

/**
 * Imports an example module by its path under examples/ (e.g. 'dashboard/fastify.mjs'). The
 * examples are plain JavaScript without declarations, so they are typed loosely here.
 */
export function example(path: string): Promise<any> {
  return import(new URL(`../${path}`, import.meta.url).href)
}

const closers: Array<() => unknown> = []

/** Registers something for `cleanup()` to close; returns it. */
export function track<T extends { close(): unknown }>(thing: T): T {
  closers.push(() => thing.close())
  return thing
}

/** Closes everything registered with `track()`, last first. */
export async function cleanup(): Promise<void> {
  while (closers.length > 0) await closers.pop()!()
}

/** Resolves after `emitter` emitted `event` `count` times (counting from now). */
export function events(emitter: EventEmitter, event: string, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    const listener = (): void => {
      if (++seen < count) return
      emitter.off(event, listener)
      resolve()
    }
    emitter.on(event, listener)
  })
}

export interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

/** fetch + JSON body. */
export async function request(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(url, init)
  const type = response.headers.get('content-type') ?? ''
  const body = type.includes('json') ? await response.json() : await response.text()
  return { status: response.status, headers: response.headers, body }
}

/** A JSON POST. */
export function post(url: string, body: unknown): ReturnType<typeof request> {
  return request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
}

/** A child process running an example with `node`, with its output collected. */
export interface ExampleProcess {
  child: ChildProcess
  /** Everything written to stdout so far. */
  readonly stdout: string
  readonly stderr: string
  /** Resolves with the first match of `pattern` in stdout, as soon as it is printed. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>
  /** Resolves with the exit code (or the signal that killed it). */
  exited: Promise<number | NodeJS.Signals>
  close(): Promise<unknown>
}

/** Runs `node examples/<path>` with `env` (PORT=0 unless given). `close()` kills it if it still runs. */
export function runExample(path: string, env: Record<string, string> = {}): ExampleProcess {
  const file = fileURLToPath(new URL(`../${path}`, import.meta.url))
  const child = spawn(process.execPath, [file], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const watchers = new Set<() => void>()
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    for (const check of watchers) check()
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<number | NodeJS.Signals>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal!)))
  const result: ExampleProcess = {
    child,
    get stdout() {
      return stdout
    },
    get stderr() {
      return stderr
    },
    exited,
    waitFor(pattern) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = stdout.match(pattern)
          if (match === null) return
          watchers.delete(check)
          resolve(match)
        }
        watchers.add(check)
        check()
        void exited.then((code) => {
          if (watchers.delete(check)) reject(new Error(`${path} exited (${code}) before printing ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`))
        })
      })
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
  return result
}
