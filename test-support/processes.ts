// A Node.js child process whose output the test can wait on.
import { type ChildProcess, spawn } from 'node:child_process'

export interface NodeProcess {
  child: ChildProcess
  /** Everything written to stdout so far. */
  readonly stdout: string
  readonly stderr: string
  /** Resolves with the first match of `pattern` in stdout, as soon as it is printed (rejects if the process exits first). */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>
  /** Resolves with the exit code (or the signal that killed it). */
  exited: Promise<number | NodeJS.Signals>
  /** Kills the process (SIGKILL, by its pid) if it still runs, then waits for its exit. */
  close(): Promise<unknown>
}

/** Runs `node <file> ...args` with `env` added to this process's environment, its output collected. */
export function runNode(file: string, { env = {}, args = [] }: { env?: Record<string, string>; args?: string[] } = {}): NodeProcess {
  const child = spawn(process.execPath, [file, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const watchers = new Set<() => void>()
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    for (const check of watchers) check()
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<number | NodeJS.Signals>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal!)))
  return {
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
          if (watchers.delete(check))
            reject(new Error(`${file} exited (${code}) before printing ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`))
        })
      })
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}
