// Inside this repository the Questlog packages resolve to their TypeScript source (the
// `@questlog/source` export condition), so a test sees the code as it is, never a stale dist/.
// Vite resolves what a test imports; Node resolves what the processes a test starts import
// (`node --import tsx src/main.ts`), so they get the condition through NODE_OPTIONS.
import { defaultServerConditions } from 'vite'
import { defineConfig } from 'vitest/config'

export const SOURCE_CONDITION = '@questlog/source'

const flag = `--conditions=${SOURCE_CONDITION}`
if (!(process.env.NODE_OPTIONS ?? '').includes(flag))
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${flag}`.trim()

export const sourceConditions = defineConfig({
  // tests run in Vite's server environment; without `module`, as Vitest's own default (an ES build
  // that Node cannot load, as @opentelemetry/api's, would be picked otherwise)
  ssr: {
    resolve: {
      conditions: [SOURCE_CONDITION, ...defaultServerConditions.filter((c) => c !== 'module')],
    },
  },
})
