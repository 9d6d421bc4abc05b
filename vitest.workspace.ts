// The one list of test projects. Vitest 4 no longer reads this file by itself:
// vitest.config.ts imports it into `test.projects`.
import type { TestProjectInlineConfiguration } from 'vitest/config'

const project = (name: string, root: string): TestProjectInlineConfiguration => ({
  extends: true, // inherit the root config (timeouts)
  test: { name, root, include: ['test/**/*.test.ts'] },
})

const projects: TestProjectInlineConfiguration[] = [
  project('core', './packages/core'),
  project('fastify', './packages/fastify'),
  project('express', './packages/express'),
  project('koa', './packages/koa'),
  project('bullmq', './packages/bullmq'),
  // Nest apps are written with legacy decorators (TypeScript's experimentalDecorators); without
  // emitted metadata, as SWC and esbuild builds often are, so the tests inject by explicit token.
  { ...project('nestjs', './packages/nestjs'), oxc: { decorator: { legacy: true } } },
  project('pg', './packages/pg'),
  project('integration', './integration-tests'),
  project('bench', './bench'),
  { ...project('examples', './examples'), oxc: { decorator: { legacy: true } } }, // examples/nestjs
]

export default projects
