// Internal members of the public classes, keyed by symbols that are never exported from the
// package: user code cannot call them by name, and they stay out of the shipped declarations.
// The pattern of undici's lib/core/symbols.js.

/** Static factory of a class whose constructor users must not call (Task, BackgroundTask, Runtime). */
export const kCreate = Symbol('taskscope.create')
/** Task: cancels with a ready-made reason (the group passes its own). */
export const kAbort = Symbol('taskscope.abort')
/** Task: runs the work now. */
export const kStart = Symbol('taskscope.start')
/** Task: the failure, for the group's report. */
export const kError = Symbol('taskscope.error')
/** TaskGroup (as a task's owner): bookkeeping when a task settles. */
export const kTaskSettled = Symbol('taskscope.taskSettled')
/** Task, BackgroundTask: whether anybody attached a handler to the outcome. */
export const kObserved = Symbol('taskscope.observed')
/** Task, BackgroundTask: resolves once settled, without observing the outcome. */
export const kWhenSettled = Symbol('taskscope.whenSettled')
/** The argument that proves a constructor was called by its own factory. */
export const kToken = Symbol('taskscope.token')
/** TaskGroup, and a request object of an adapter: the group `currentTaskGroup()` returns in its scope. */
export const kCurrentGroup = Symbol('taskscope.currentGroup')
/** A scope of `currentSignal()` (a task's, a background task's, a race's, a shield): the signal it gives. */
export const kCurrentSignal = Symbol('taskscope.currentSignal')
/** TaskGroup: a child group learns that its parent must close it now. */
export const kCloseAsChild = Symbol('taskscope.closeAsChild')
/** TaskGroup: a child group tells its parent it was cancelled by a failure. */
export const kChildFailed = Symbol('taskscope.childFailed')
/** Runtime: the registry that runs closures (`after`, `waitUntil`): the app's, or a local one. */
export const kClosureTasks = Symbol('taskscope.closureTasks')
/** Task: when it was created (`performance.now()`), for `runtime.inspect()`. */
export const kStartedAt = Symbol('taskscope.startedAt')
/** TaskGroup: its tasks not settled yet, for `runtime.inspect()`. */
export const kLiveTasks = Symbol('taskscope.liveTasks')
/** TaskGroup: why it was cancelled (`'user'`, `'parent'`, `'timeout'`, `'failure'`), for `runtime.stats()`. */
export const kCancelKind = Symbol('taskscope.cancelKind')
/** TaskGroup: cancels with a ready-made reason, saying why (its parent group, its deadline watch). */
export const kCancel = Symbol('taskscope.cancel')
/** TaskGroup: waits for every task, refuses new ones, and returns the failures nobody observed. */
export const kJoin = Symbol('taskscope.join')
/** TaskGroup: the cancellation that `close()` and `TaskGroup.run` rethrow (the parent signal's or the timeout's). */
export const kImposedCancellation = Symbol('taskscope.imposedCancellation')
/** TaskGroup: closes at once when nothing is left to wait for (a request group at its response's end). */
export const kCloseNow = Symbol('taskscope.closeNow')
/** A response: the request group `runtime.requestGroup()` made for it. */
export const kRequestGroup = Symbol('taskscope.requestGroup')
/** A member of a LinkedList (a task in its group, a request in its runtime): its neighbours. */
export const kPrevious = Symbol('taskscope.previous')
export const kNext = Symbol('taskscope.next')
