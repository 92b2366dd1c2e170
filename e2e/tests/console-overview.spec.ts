import { randomBytes } from 'node:crypto'
import type { Locator } from '@playwright/test'
import { brokerApi, stack } from '../stack-env'
import { saveScreenshot } from './console-screenshots'
import { expect, test } from './console-session'

const num = async (chart: Locator, attr: string) => Number(await chart.getAttribute(attr))

/** Vertices of the first drawn line of a chart (recharts draws "M x,y L x,y …"). */
async function vertices(chart: Locator): Promise<number> {
  const d = (await chart.locator('path.recharts-line-curve').first().getAttribute('d')) ?? ''
  return (d.match(/[ML]/g) ?? []).length
}

test('the overview charts draw the traffic the broker just had', async ({ page }, info) => {
  const { consoleUrl } = stack()
  const topic = `e2e.load-${randomBytes(3).toString('hex')}`
  expect((await brokerApi('POST', '/v1/topics', { name: topic, partitions: 2 })).status).toBe(201)
  // a few seconds of traffic in and out, so several one-second samples carry it
  for (let i = 0; i < 4; i++) {
    const batch = { events: Array.from({ length: 200 }, (_, n) => ({ type: 'game.kill', data: { n } })) }
    expect((await brokerApi('POST', `/v1/topics/${topic}/events`, batch)).status).toBe(201)
    expect((await brokerApi('GET', `/v1/topics/${topic}/events?partition=0&limit=100`)).status).toBe(200)
    await new Promise((r) => setTimeout(r, 700))
  }

  await page.goto(consoleUrl)
  const events = page.getByTestId('chart-events')
  await expect(events).toBeVisible()
  await expect.poll(() => num(events, 'data-points')).toBeGreaterThanOrEqual(5)
  expect(await num(events, 'data-max-events-in-per-sec')).toBeGreaterThan(0)
  expect(await num(events, 'data-max-events-out-per-sec')).toBeGreaterThan(0)
  // both series are drawn, one vertex per sample
  await expect(events.locator('path.recharts-line-curve')).toHaveCount(2)
  expect(await vertices(events)).toBeGreaterThanOrEqual(5)

  const latency = page.getByTestId('chart-publish-latency')
  expect(await num(latency, 'data-max-publish-p99-ms')).toBeGreaterThan(0)
  expect(await num(latency, 'data-max-publish-p99-ms')).toBeGreaterThanOrEqual(
    await num(latency, 'data-max-publish-p50-ms'),
  )
  const db = page.getByTestId('chart-db-latency')
  expect(await num(db, 'data-max-db-latency-ms')).toBeGreaterThan(0)
  expect(await vertices(db)).toBeGreaterThanOrEqual(5)
  await expect(page.getByTestId('chart-errors')).toHaveAttribute('data-points', /\d+/)

  // live: new samples come without a reload (by the newest one's time: a full window keeps its count)
  const before = await num(events, 'data-last-t')
  await expect.poll(() => num(events, 'data-last-t'), { timeout: 10_000 }).toBeGreaterThan(before)
  await saveScreenshot(page, info, 'overview', 'console-overview.png')

  // the window picker switches to the coarser series
  await page.getByRole('button', { name: '24 h' }).click()
  await expect(page.getByRole('button', { name: '24 h' })).toHaveAttribute('aria-pressed', 'true')
  await expect(
    page.getByTestId('chart-events').or(page.getByText('Collecting the first samples')),
  ).toBeVisible()
  await page.getByRole('button', { name: '5 min' }).click()
  await expect.poll(() => num(page.getByTestId('chart-events'), 'data-points')).toBeGreaterThanOrEqual(5)
})

test('the brokers screen shows the live node and its health report', async ({ page }, info) => {
  const { consoleUrl } = stack()
  const health = await brokerApi<{ brokerId: string }>('GET', '/health')
  await page.goto(`${consoleUrl}/brokers`)
  await expect(page.getByTestId('broker-status')).toHaveText('ok')
  await expect(page.getByTestId('brokers-table')).toContainText(health.body.brokerId)
  await expect(page.getByTestId('health-json')).toContainText('"db_latency_ms"')
  await saveScreenshot(page, info, 'brokers')
})
