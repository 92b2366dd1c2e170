import { defineConfig, mergeConfig } from 'vitest/config'
import { sourceConditions } from '../../tooling/vitest/source-conditions'

export default mergeConfig(sourceConditions, defineConfig({}))
