import { describe, expect, it } from 'vitest'
import { measureBundles } from './bundle-size'

/**
 * Gzipped bytes an app pays for the SDK, bundled by the app: at most 25 KiB. The SDK's path holds no
 * zod schema (the protocol's wire constants live in a module without any), so zod, which a bundler
 * cannot drop once its builders run at module load, is not in the bundle at all.
 */
const BUDGET_GZIP_BYTES = {
  'publish + subscribe': 25 * 1024,
  'publish only': 25 * 1024,
}

describe('browser bundle size', () => {
  it('stays within its budget when an app bundles it', async () => {
    for (const size of await measureBundles()) {
      expect(
        size.gzipBytes,
        `${size.case}: ${(size.gzipBytes / 1024).toFixed(1)} KiB gzipped`,
      ).toBeLessThanOrEqual(BUDGET_GZIP_BYTES[size.case])
    }
  }, 120_000)

  it('an app that only publishes pays no more than one that also subscribes', async () => {
    const [both, publishOnly] = await measureBundles()
    expect(publishOnly!.gzipBytes).toBeLessThanOrEqual(both!.gzipBytes)
  }, 120_000)
})
