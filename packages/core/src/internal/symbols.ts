// Internal members of the public classes, keyed by symbols that are never exported from the
// package: user code cannot call them by name, and they stay out of the shipped declarations.
// The pattern of undici's lib/core/symbols.js, in sections by the class that owns the member.
//
// Most are called within primitives/. Those marked "Crosses layers" are read by runtime/ from a
// primitives/ object: changing one changes the runtime too.

// --- Every class users get from a factory (Task, BackgroundTask, Runtime) -----------------------

/** Static factory of a class whose constructor users must not call. */
export const kCreate = Symbol('taskscope.create')
/** The argument that proves a constructor was called by its own factory. */
export const kToken = Symbol('taskscope.token')

// --- Task: called by its group -------------------------------------------------------------------

/** Task: cancels with a ready-made reason (the group passes its own). */
export const kAbort = Symbol('taskscope.abort')
/** Task: runs the work now. */
export const kStart = Symbol('taskscope.start')
/** Task: the failure, for the group's report. */
export const kError = Symbol('taskscope.error')
/** Task: when it was created (`performance.now()`), for `runtime.inspect()`. Crosses layers. */
export const kStartedAt = Symbol('taskscope.startedAt')

// --- Task (primitives/task.ts) and BackgroundTask (internal/settleable.ts) --------------------------------------------

/** Task, BackgroundTask: whether anybody attached a handler to the outcome. */
export const kObserved = Symbol('taskscope.observed')
/** Task, BackgroundTask: resolves once settled, without observing the outcome. */
export const kWhenSettled = Symbol('taskscope.whenSettled')

// --- TaskGroup -----------------------------------------------------------------------------------

/** TaskGroup (as a task's owner): bookkeeping when a task settles. */
export const kTaskSettled = Symbol('taskscope.taskSettled')
/** TaskGroup: waits for every task, refuses new ones, and returns the failures nobody observed. */
export const kJoin = Symbol('taskscope.join')
/** TaskGroup: the cancellation that `close()` and `TaskGroup.run` rethrow (the parent signal's or the timeout's). */
export const kImposedCancellation = Symbol('taskscope.imposedCancellation')
/** TaskGroup: cancels with a ready-made reason, saying why (its parent group, its deadline watch, a response). Crosses layers. */
export const kCancel = Symbol('taskscope.cancel')
/** TaskGroup: closes at once when nothing is left to wait for (a request group at its response's end). Crosses layers. */
export const kCloseNow = Symbol('taskscope.closeNow')
/** TaskGroup: its tasks not settled yet, for `runtime.inspect()`. Crosses layers. */
export const kLiveTasks = Symbol('taskscope.liveTasks')
/** TaskGroup: why it was cancelled (`'user'`, `'parent'`, `'timeout'`, `'failure'`), for `runtime.stats()`. Crosses layers. */
export const kCancelKind = Symbol('taskscope.cancelKind')
/** TaskGroup, and a request object of an adapter: the group `currentTaskGroup()` returns in its scope. Crosses layers. */
export const kCurrentGroup = Symbol('taskscope.currentGroup')
/** TaskGroup: a child group learns that its parent must close it now (task-group-children.ts). */
export const kCloseAsChild = Symbol('taskscope.closeAsChild')

// --- The scopes of currentSignal() (a task's, a background task's, a race's, a shield) ----------

/** A scope of `currentSignal()`: the signal it gives. */
export const kCurrentSignal = Symbol('taskscope.currentSignal')

// --- Runtime (runtime/ only) ---------------------------------------------------------------------

/** Runtime: the registry that runs closures (`after`, `waitUntil`): the app's, or a local one. */
export const kClosureTasks = Symbol('taskscope.closureTasks')
/** A response: the request group `runtime.requestGroup()` made for it. */
export const kRequestGroup = Symbol('taskscope.requestGroup')
/** A response: the failures its request was answered with already (not to be reported again when its group closes). */
export const kAnsweredFailures = Symbol('taskscope.answeredFailures')

// --- LinkedList (internal/linked-list.ts): a task in its group, a request in its runtime ---------

/** A member of a LinkedList: its previous neighbour. Crosses layers (a runtime request record is a member). */
export const kPrevious = Symbol('taskscope.previous')
/** A member of a LinkedList: its next neighbour. Crosses layers. */
export const kNext = Symbol('taskscope.next')
