// The pool keeps its machinery out of the way of the code its threads run: the globals a task can
// see (process.memoryUsage, MessagePort.prototype.postMessage, parentPort) are Node's own, and it
// works the same where Node refuses the pool's preload. Real worker threads and child processes.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { poolsForEachTest } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

const pool = poolsForEachTest()

describe('the globals of a pool thread', () => {
  it('are Node’s own: process.memoryUsage reads the real heap, postMessage and parentPort.on are not wrapped', async () => {
    const p = pool()
    const seen = await p.run(() => {
      const { MessagePort, parentPort } = process.getBuiltinModule('node:worker_threads')
      const native = (fn: unknown): boolean =>
        typeof fn === 'function' && /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(fn))
      const usage = process.memoryUsage()
      return {
        heapUsed: usage.heapUsed > 0 && usage.rss > 0,
        rss: process.memoryUsage.rss() > 0,
        memoryUsageIsNodes: !native(process.memoryUsage) && Function.prototype.toString.call(process.memoryUsage).includes('memoryUsage'),
        postMessage: native(MessagePort.prototype.postMessage),
        parentPortOn: parentPort !== null && !Object.hasOwn(parentPort, 'on'),
      }
    }, [])
    expect(seen).toEqual({ heapUsed: true, rss: true, memoryUsageIsNodes: true, postMessage: true, parentPortOn: true })
  })

  it('a script run with node --input-type=module -e can use a pool (its input flags are not the threads’)', async () => {
    const code =
      "import { Threadpool } from '@taskscope/core'\nconst pool = new Threadpool({ maxThreads: 1 })\nconsole.log('result:', await pool.run((a, b) => a + b, [40, 2]))\nawait pool.destroy()"
    const cwd = fileURLToPath(new URL('.', import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code], { cwd, timeout: 30_000 })
    expect(stdout.trim()).toBe('result: 42')
  })

  const script = fileURLToPath(new URL('./fixtures/refused-flags.mjs', import.meta.url))
  const flags = ['--max-old-space-size=512', '--expose-gc', '--enable-source-maps']
  const behaves = {
    cloneCode: 'ERR_THREADPOOL_DATA_CLONE',
    sameThreadAfterClone: true,
    stray: 'WorkerCrashedError',
    replacedAfterStray: true,
  }

  it('under node flags a Worker refuses explicitly (--max-old-space-size, --expose-gc), threads get the rest and the preload', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [...flags, script], { timeout: 30_000 })
    expect(JSON.parse(stdout)).toEqual({
      ...behaves,
      thread: { execArgv: ['--enable-source-maps', '--import', 'preload'], gc: 'function', postMessageWrapped: false },
    })
  })

  it('where the flags cannot be worked out, threads start without the preload: strays and clone failures behave the same', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [...flags, script, 'unexpected'], { timeout: 30_000 })
    // Inherited implicitly, Node leaves the process-wide flags out of the thread's execArgv too.
    expect(JSON.parse(stdout)).toEqual({
      ...behaves,
      thread: { execArgv: ['--enable-source-maps'], gc: 'function', postMessageWrapped: true },
    })
  })
})
