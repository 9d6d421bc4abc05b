import { defineConfig } from 'vitest/config'
import projects from './vitest.workspace.ts'

export default defineConfig({
  test: {
    projects,
    // Real sockets and real worker threads: give slow shared CI machines room.
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
})
