// Worker side of function shipping: turns a function's source text back into a function.
//
// The source is what Function.prototype.toString printed on the main thread: a function or async
// function (`function f() {}`), an arrow (`(a) => a`), or a method shorthand (`m(x) {}`, also
// async, generator, getter or computed-key), which is not an expression on its own. It is compiled
// in strict mode (the original lived in an ES module, which is strict) with two transpiler helpers
// in scope, so that code compiled by common tools stays self-contained:
// - `__name`: esbuild and tsx (keepNames) insert `__name(fn, "name")` calls, also inside bodies;
// - `__vite_ssr_dynamic_import__`: Vitest rewrites `import(x)` in test files into this call.
// A `//# sourceURL` names the function in stack traces, which is also how a ReferenceError is
// traced back to the shipped code (see isShippedFrame).

import { codedError, errorCodes } from '../../errors.js'

type Compiled = (...args: unknown[]) => unknown

/** esbuild's keepNames helper. */
function __name<T extends object>(target: T, value: string): T {
  return Object.defineProperty(target, 'name', { value, configurable: true })
}

/** Vitest's (vite-node's) stand-in for `import()`; only absolute and bare specifiers make sense here. */
function __vite_ssr_dynamic_import__(specifier: string): Promise<unknown> {
  return import(specifier)
}

const sourceUrlPrefix = 'taskscope-threadpool:fn/'

function sourceUrl(id: number, name: string): string {
  return `${sourceUrlPrefix}${id}/${name.replace(/[^\w$.-]/g, '_')}`
}

/** True when the first stack frame of `stack` is in the shipped function `id`. */
export function isShippedFrame(stack: unknown, id: number): boolean {
  if (typeof stack !== 'string') return false
  const frame = stack.split('\n').find((line) => line.trimStart().startsWith('at '))
  return frame?.includes(`${sourceUrlPrefix}${id}/`) ?? false
}

function build(body: string, id: number, name: string): Compiled {
  const factory = new Function('__name', '__vite_ssr_dynamic_import__', `"use strict";\n${body}\n//# sourceURL=${sourceUrl(id, name)}`) as (
    ...helpers: [typeof __name, typeof __vite_ssr_dynamic_import__]
  ) => unknown
  const fn = factory(__name, __vite_ssr_dynamic_import__)
  if (typeof fn !== 'function') throw new TypeError(`The source of "${name}" is not a function`)
  return fn as Compiled
}

/**
 * Compiles a shipped function. Tries, in order: the source bound to a constant named after the
 * function (as in the module it came from, so a recursive arrow can call itself and anonymous
 * arrows keep their name in stack traces), the bare expression, then a method shorthand wrapped
 * in an object literal. Throws a SyntaxError naming the function when none parses.
 */
export function compileFunction(source: string, id: number, name: string): Compiled {
  const attempts = [
    `const ${name} = (\n${source}\n);\nreturn ${name};`,
    `return (\n${source}\n);`,
    `const __holder__ = {\n${source}\n};\n` +
      'const __method__ = Object.getOwnPropertyDescriptor(__holder__, Reflect.ownKeys(__holder__)[0]);\n' +
      'return __method__.value ?? __method__.get ?? __method__.set;',
  ]
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) attempts.shift()
  let firstError: unknown
  for (const body of attempts) {
    try {
      return build(body, id, name)
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error
      firstError ??= error
    }
  }
  throw codedError(
    SyntaxError,
    errorCodes.threadpoolCompile,
    `A Threadpool could not compile the function "${name}" from its source. Only functions, arrow ` +
      'functions, async functions and methods can be shipped; a function transpiled to need helpers ' +
      '(e.g. __awaiter) cannot: compile for ES2017 or later, or use workerTask().',
    { cause: firstError },
  )
}
