// tinypool listens only for a thread's 'error' event: a thread that calls `process.exit()` exits
// without one, and its task would wait forever. So every thread tinypool starts gets an 'exit'
// listener (the public `threads` list is scanned after each event that can start one). tinypool
// takes a thread out of `threads` before it terminates it (cancel, idle, destroy, error), so a
// thread still listed when it exits died by itself: it is reported as an 'error' on the thread,
// as tinypool's own child_process runtime does, and tinypool rejects its task and replaces it.
import type { Tinypool, TinypoolWorker } from 'tinypool'
import { exitError } from './reply-outcome.js'

export class ThreadWatch {
  #tinypool: Tinypool
  #stopped: () => boolean
  #watched = new WeakSet<TinypoolWorker>()
  #alive = 0

  constructor(tinypool: Tinypool, stopped: () => boolean) {
    this.#tinypool = tinypool
    this.#stopped = stopped
    // tinypool reports a thread that dies while idle (a timer left by a task threw) as an 'error'
    // of the pool, which would crash the process unheard. No task waits on it; tinypool replaced it.
    tinypool.on('error', () => this.scan())
    this.scan()
  }

  /** Watched threads that have not exited: below maxThreads, tinypool may start more. */
  get alive(): number {
    return this.#alive
  }

  /** Watches every thread tinypool has started since the last scan. */
  scan(): void {
    for (const worker of this.#tinypool.threads) {
      if (this.#watched.has(worker)) continue
      this.#watched.add(worker)
      this.#alive++
      worker.on('exit', (code: number) => {
        this.#alive--
        if (this.#tinypool.threads.includes(worker)) worker.emit('error', exitError(code))
        if (!this.#stopped()) this.scan() // a replacement may have started meanwhile
      })
    }
  }
}
