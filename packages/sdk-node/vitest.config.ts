import { defineConfig, mergeConfig } from 'vitest/config'
import { sourceConditions } from '../../tooling/vitest/source-conditions'

// the pack-install test packs, installs with npm and runs a broker: minutes on a loaded machine
export default mergeConfig(sourceConditions, defineConfig({ test: { testTimeout: 300_000 } }))
