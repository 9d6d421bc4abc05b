// Self-contained CPU functions for the threadpool (shipped to workers by source: no outer variables).

/** 1 + 2 + … + n, the slow way. */
export function sumTo(n: number): number {
  let sum = 0
  for (let i = 1; i <= n; i++) sum += i
  return sum
}

/** Never returns: only cancellation (worker termination) stops it. */
export function spinForever(): number {
  let x = 0
  for (;;) x = (x + 1) % 1_000_003
}
