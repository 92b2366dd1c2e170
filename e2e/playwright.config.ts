import { register } from 'node:module'
import { defineConfig } from '@playwright/test'

// the Questlog packages resolve to their source here, as in the other suites: in this process through
// a module hook, in the processes it starts (workers, broker, console build) through NODE_OPTIONS
register(new URL('../tooling/node/source-conditions.mjs', import.meta.url))
const flag = '--conditions=@questlog/source'
if (!(process.env.NODE_OPTIONS ?? '').includes(flag))
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${flag}`.trim()

/**
 * Every suite in tests/ runs against the stack global-setup.ts starts (PostgreSQL,
 * broker, console), in Debian's Chromium: Playwright cannot download its own here.
 */
export default defineConfig({
  testDir: 'tests',
  globalSetup: './global-setup.ts',
  outputDir: 'test-results',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  // one browser at a time: the stack and Chromium share two cores
  workers: 1,
  fullyParallel: false,
  forbidOnly: Boolean(process.env.CI),
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  use: {
    browserName: 'chromium',
    viewport: { width: 1400, height: 900 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
})
