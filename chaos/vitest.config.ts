import { defineConfig, mergeConfig } from 'vitest/config'
import { sourceConditions } from '../tooling/vitest/source-conditions'

export default mergeConfig(
  sourceConditions,
  defineConfig({
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: 240_000,
      hookTimeout: 120_000,
    },
  }),
)
