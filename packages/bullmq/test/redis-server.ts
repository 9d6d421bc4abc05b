// A real redis-server per test file, on a free loopback port; stopped by pid.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { serverPort } from '@taskscope/test-support'

export interface RedisServer {
  readonly port: number
  readonly url: string
  readonly pid: number
  /** Stops it (SIGTERM, by pid) and waits for it to exit. */
  stop(): Promise<void>
  /** SIGKILL, by pid: Redis dies at once (no persistence: its jobs are gone); resolves once it exited. */
  kill(): Promise<void>
  /** SIGSTOP / SIGCONT, by pid: Redis freezes (connections stay open, nothing answers) / thaws. */
  freeze(): void
  thaw(): void
}

/** A free TCP port on 127.0.0.1, below the ephemeral range: a restart on it cannot find it taken. */
export const freePort = serverPort

/** Starts `redis-server` on `port` (a free one by default) with no persistence unless `args` say otherwise. */
export async function startRedis(options: { port?: number; args?: string[] } = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort())
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...(options.args ?? [])]
  const child: ChildProcess = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.setEncoding('utf8')
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: string): void => {
      output += chunk
      if (output.includes('Ready to accept connections')) {
        child.stdout!.off('data', onData)
        child.off('exit', onExit)
        child.stdout!.resume()
        resolve()
      }
    }
    const onExit = (code: number | null): void => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`))
    child.stdout!.on('data', onData)
    child.once('exit', onExit)
    child.once('error', reject)
  })
  const exited = once(child, 'exit')
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (gone()) return
      process.kill(child.pid!, 'SIGCONT') // a frozen server cannot act on SIGTERM
      process.kill(child.pid!, 'SIGTERM')
      await exited
    },
    async kill() {
      if (!gone()) process.kill(child.pid!, 'SIGKILL')
      await exited
    },
    freeze: () => void (gone() || process.kill(child.pid!, 'SIGSTOP')),
    thaw: () => void (gone() || process.kill(child.pid!, 'SIGCONT')),
  }
}
