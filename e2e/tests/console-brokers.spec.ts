import { type Broker, createBroker } from '@questlog/broker'
import { ADMIN_KEY, DATABASE_URL_VAR, stack } from '../stack-env'
import { saveScreenshot } from './console-screenshots'
import { expect, test } from './console-session'

test('the Brokers page lists every broker of the cluster from the registry, and a stopped one as stopped', async ({
  page,
}, info) => {
  // a second broker on the stack's database joins the cluster
  const second: Broker = await createBroker({
    port: 0,
    databaseUrl: process.env[DATABASE_URL_VAR]!,
    logLevel: 'warn',
    auth: 'on',
    adminKey: ADMIN_KEY,
  })
  let stopped = false
  try {
    await page.goto(`${stack().consoleUrl}/brokers`)
    const cluster = page.getByTestId('cluster-table')
    const row = cluster.locator(`tr[data-broker="${second.services.brokerId}"]`)
    await expect(row).toHaveAttribute('data-state', 'live')
    await expect(cluster.locator('tbody tr[data-state="live"]')).toHaveCount(2)
    await expect(cluster).toContainText("(this console's)")
    // times carry their zone
    await expect(row.locator('td').nth(9)).toHaveText(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} \S+/)
    await saveScreenshot(page, info, 'brokers', 'console-brokers.png')
    await second.stop()
    stopped = true
    await expect(row).toHaveAttribute('data-state', 'stopped', { timeout: 20_000 })
  } finally {
    if (!stopped) await second.stop()
  }
})
