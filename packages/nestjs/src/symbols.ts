/** @internal Guards constructors made only by the module. */
export const kToken = Symbol('taskscope.nestjs.token')
