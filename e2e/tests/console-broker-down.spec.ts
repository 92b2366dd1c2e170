import { expect, test } from '@playwright/test'
import { freePort } from '@questlog/broker'
import { startConsole, stopProcess } from '../global-setup'
import { ADMIN_KEY } from '../stack-env'

test('with the broker unreachable, the screens say so in plain words', async ({ page }) => {
  // a console of its own, pointed at a port where nothing listens; with a pre-configured key it needs no login
  const brokerUrl = `http://127.0.0.1:${await freePort()}`
  const isolated = await startConsole(brokerUrl, { QUESTLOG_CONSOLE_KEY: ADMIN_KEY })
  try {
    const words = `The console cannot reach the broker at ${brokerUrl}. Is it running?`
    await page.goto(isolated.url)
    await expect(page.locator('main').getByRole('alert').first()).toContainText(words)
    await expect(page.getByTestId('chart-events')).toHaveCount(0)

    await page.goto(`${isolated.url}/topics`)
    await expect(page.locator('main').getByRole('alert')).toHaveText(`The topics cannot load. ${words}`)
    await expect(page.getByTestId('topics-table')).toHaveCount(0)

    await page.goto(`${isolated.url}/brokers`)
    await expect(page.locator('main').getByRole('alert')).toContainText(words)
    await expect(page.getByTestId('signed-in-as')).toContainText('QUESTLOG_CONSOLE_KEY')
  } finally {
    await stopProcess(isolated.process)
  }
})
