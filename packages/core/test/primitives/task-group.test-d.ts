// Type tests, checked by `tsc -p tsconfig.json` at the root (npm test runs it before Vitest).

import { createTaskGroup, currentTaskGroup, type Task, TaskGroup, type TaskStatus } from '@taskscope/core'
import { expectTypeOf } from 'vitest'

declare const group: TaskGroup

// A Task<number> awaits to number, whatever the work's shape.
expectTypeOf(group.createTask(async () => 1)).toEqualTypeOf<Task<number>>()
expectTypeOf(group.createTask(() => 1)).toEqualTypeOf<Task<number>>()
expectTypeOf(group.createTask(Promise.resolve('x'))).toEqualTypeOf<Task<string>>()
expectTypeOf(group.createTask(async (signal) => signal)).toEqualTypeOf<Task<AbortSignal>>()
async function awaited(): Promise<void> {
  const value = await group.createTask(async () => 1)
  expectTypeOf(value).toEqualTypeOf<number>()
  const all = await Promise.all([group.createTask(async () => 1), group.createTask(async () => 'a')])
  expectTypeOf(all).toEqualTypeOf<[number, string]>()
}
void awaited

// The work receives an AbortSignal.
group.createTask((signal) => {
  expectTypeOf(signal).toEqualTypeOf<AbortSignal>()
})

// Task members.
declare const task: Task<number>
expectTypeOf(task.status).toEqualTypeOf<TaskStatus>()
expectTypeOf(task.signal).toEqualTypeOf<AbortSignal>()
expectTypeOf(task.name).toEqualTypeOf<string>()
expectTypeOf(task).toMatchTypeOf<PromiseLike<number>>()

// TaskGroup.run returns its callback's type.
expectTypeOf(TaskGroup.run(async () => 'done')).toEqualTypeOf<Promise<string>>()
expectTypeOf(TaskGroup.run((g) => g.createTask(async () => 2))).toEqualTypeOf<Promise<number>>()

// createTaskGroup is the `for await` form; TaskGroup is AsyncDisposable.
expectTypeOf(createTaskGroup()).toEqualTypeOf<AsyncGenerator<TaskGroup, void, undefined>>()
expectTypeOf(group).toMatchTypeOf<AsyncDisposable>()

// Misuse is a type error.
// @ts-expect-error work must be a function or a promise
group.createTask(42)
// @ts-expect-error limit is a number
new TaskGroup({ limit: '2' })
// @ts-expect-error unknown option
new TaskGroup({ limt: 2 })

// start() resolves with what ready() is given; child() is a TaskGroup; deadlines are numbers.
expectTypeOf(group.start<number>((_signal, ready) => ready(8080))).toEqualTypeOf<Promise<number>>()
expectTypeOf(group.start((_signal, ready) => ready())).toEqualTypeOf<Promise<unknown>>()
expectTypeOf(group.child({ timeout: 100, failFast: false })).toEqualTypeOf<TaskGroup>()
expectTypeOf(group.deadline).toEqualTypeOf<number | undefined>()
expectTypeOf(group.remaining()).toEqualTypeOf<number>()
expectTypeOf(currentTaskGroup()).toEqualTypeOf<TaskGroup | undefined>()
// @ts-expect-error failFast is a boolean
new TaskGroup({ failFast: 'no' })
// @ts-expect-error a child has no signal option: its parent is its parent
group.child({ signal: new AbortController().signal })
