import type { BackgroundRegistry } from './background-registry.js'
import type { BackgroundTasks } from './background-tasks.js'

/**
 * The app's own types, declared once by declaration merging (TanStack Router's pattern): a
 * framework's request types cannot follow a value passed at run time, so an app whose background
 * registry is not the embedded one says which it is, and `app.backgroundTasks`,
 * `request.backgroundTasks`, `req.backgroundTasks` and `ctx.backgroundTasks` are typed as that
 * registry (a call it cannot honour fails to type-check). Without it, the embedded
 * {@link BackgroundTasks} is the type.
 *
 * @example
 * ```ts
 * import type { BullmqBackgroundTasks } from '@taskscope/bullmq'
 * declare module '@taskscope/core' {
 *   interface Register {
 *     backgroundTasks: BullmqBackgroundTasks
 *   }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by the app, by declaration merging
export interface Register {}

/**
 * The type of the app's background registry: the one declared in {@link Register} (a
 * {@link BackgroundRegistry} such as `BullmqBackgroundTasks`), else the embedded
 * {@link BackgroundTasks}. What is declared is taken as is, never silently replaced.
 */
export type RegisteredBackgroundTasks = Register extends { backgroundTasks: infer R } ? R : BackgroundTasks
