// The one list of test projects. Vitest 4 no longer reads this file by itself:
// vitest.config.ts imports it into `test.projects`.
import type { TestProjectInlineConfiguration } from 'vitest/config'

const projects: TestProjectInlineConfiguration[] = [
  {
    test: {
      name: 'core',
      root: './packages/core',
      include: ['test/**/*.test.ts'],
    },
  },
]

export default projects
