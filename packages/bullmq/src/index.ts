/**
 * taskscope background tasks on BullMQ (Redis or PostgreSQL): the app's `backgroundTasks` with the same calls as
 * the embedded registry, but durable and spread over every process of the app. Jobs are
 * `defineTask()` tasks with JSON data; cancellation reaches the job wherever it runs; a process
 * killed mid-job leaves the job to another; shutdown returns unfinished jobs to the queue.
 *
 * @module
 */

export type { RedisConnection } from './connection.js'
export type { BullmqTaskInfo } from './job-info.js'
export type { BullmqAddOptions, BullmqBackgroundTasksOptions, BullmqBackoff } from './options.js'
export type { PostgresConnection } from './postgres-store.js'
export type { BullmqShutdownReport } from './registry.js'
export { BullmqBackgroundTasks } from './registry.js'
export type { StoreKind } from './store.js'
export type { BullmqTaskStatus } from './task-handle.js'
export { BullmqTask } from './task-handle.js'
