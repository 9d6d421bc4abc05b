// The app's declaration, once (TanStack Router's pattern): its background registry is a
// BullmqBackgroundTasks. Checked in a program of its own (tsconfig.json here): declaration merging
// is global, and the other type tests check the embedded default.
import type { BullmqBackgroundTasks } from '@taskscope/bullmq'
import { defineTask } from '@taskscope/core'

declare module '@taskscope/core' {
  interface Register {
    backgroundTasks: BullmqBackgroundTasks
  }
}

export const sendNewsletter = defineTask('newsletter.send', async (data: { list: string }) => ({ sent: data.list.length }))
