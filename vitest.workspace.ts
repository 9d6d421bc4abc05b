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
  project('pg', './packages/pg'),
  project('integration', './integration-tests'),
  project('bench', './bench'),
  project('examples', './examples'),
]

export default projects
