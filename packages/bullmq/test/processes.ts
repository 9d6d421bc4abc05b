// OS processes standing for machines: small .mjs apps forked with an IPC channel, always killed
// by pid at the end of each test (also when it fails).
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const app = fileURLToPath(new URL('./fixtures/app.mjs', import.meta.url))
const live = new Set<ChildProcess>()
/** Where the fixture tasks count their starts and completions (one byte each), whatever the store. */
const countersDir = mkdtempSync(join(tmpdir(), 'taskscope-counters-'))
process.once('exit', () => rmSync(countersDir, { recursive: true, force: true }))

/** How many times the fixture tasks of every machine counted `key` (`starts:<tag>`, `completions:<tag>`). */
export async function count(key: string): Promise<number> {
  try {
    return statSync(join(countersDir, key)).size
  } catch {
    return 0
  }
}

export interface Machine {
  readonly pid: number
  /** Sends a command and waits for its answer. */
  call<T = unknown>(command: Record<string, unknown>): Promise<T>
  /** Waits for the next event message matching `predicate`. */
  next<T = Record<string, unknown>>(predicate: (message: Record<string, unknown>) => boolean): Promise<T>
  /** Every event message received so far. */
  readonly events: Record<string, unknown>[]
  /** SIGKILL, by pid; resolves once it is gone. */
  kill(): Promise<void>
  readonly exited: Promise<unknown>
}

let nextCall = 0

/** Forks the fixture app with these settings (see fixtures/app.mjs) and waits until it is ready. */
export async function startMachine(settings: {
  url: string
  queue: string
  concurrency: number
  [key: string]: unknown
}): Promise<Machine> {
  const child = fork(app, [], {
    env: { ...process.env, TASKSCOPE_FIXTURE: JSON.stringify({ countersDir, ...settings }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  live.add(child)
  const exited = once(child, 'exit')
  exited.then(
    () => live.delete(child),
    () => live.delete(child),
  )
  const events: Record<string, unknown>[] = []
  const waiters = new Set<{ predicate: (m: Record<string, unknown>) => boolean; resolve: (m: any) => void }>()
  const answers = new Map<number, { resolve: (v: any) => void; reject: (e: unknown) => void }>()
  child.on('message', (message: any) => {
    if (message.answer !== undefined) {
      const answer = answers.get(message.answer)
      answers.delete(message.answer)
      if (message.error !== undefined) answer?.reject(Object.assign(new Error(message.error.message), message.error))
      else answer?.resolve(message.value)
      return
    }
    events.push(message)
    for (const waiter of waiters) {
      if (!waiter.predicate(message)) continue
      waiters.delete(waiter)
      waiter.resolve(message)
    }
  })
  const gone = exited.then(([code, signal]) => {
    const error = new Error(`fixture process ${child.pid} exited (${code ?? signal})`)
    for (const { reject } of answers.values()) reject(error)
    answers.clear()
  })
  const machine: Machine = {
    pid: child.pid!,
    events,
    exited,
    call(command) {
      const id = nextCall++
      return new Promise((resolve, reject) => {
        answers.set(id, { resolve, reject })
        child.send({ ...command, call: id })
      })
    },
    next(predicate) {
      const seen = events.find(predicate)
      if (seen !== undefined) return Promise.resolve(seen as any)
      return new Promise((resolve) => waiters.add({ predicate, resolve }))
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL')
      await gone
    },
  }
  await Promise.race([machine.next((m) => m.event === 'ready'), gone.then(() => Promise.reject(new Error('fixture exited before ready')))])
  return machine
}

/** Kills every fixture process still alive, by pid (afterEach). */
export async function killMachines(): Promise<void> {
  await Promise.all(
    [...live].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      process.kill(child.pid!, 'SIGKILL')
      await exited
    }),
  )
}
