import { randomBytes } from 'node:crypto'
import type { Locator } from '@playwright/test'
import { consumer, publishMany } from '../consumer'
import { brokerApi, stack } from '../stack-env'
import { saveScreenshot } from './console-screenshots'
import { expect, test } from './console-session'

const num = async (chart: Locator, attr: string) => Number(await chart.getAttribute(attr))

test('a subscription created in the console shows its lag rise with 1,000 events and fall to 0 as a consumer acks', async ({
  page,
}, info) => {
  test.setTimeout(120_000)
  const { consoleUrl } = stack()
  const id = randomBytes(3).toString('hex')
  const topic = `e2e.scores-${id}`
  const name = `e2e-scorers-${id}`
  const taken = `e2e-taken-${id}`
  expect((await brokerApi('POST', '/v1/topics', { name: topic, partitions: 2 })).status).toBe(201)
  expect((await brokerApi('POST', '/v1/subscriptions', { name: taken, topic })).status).toBe(201)
  const before = (await brokerApi<{ subscriptions: unknown[] }>('GET', '/v1/subscriptions')).body
    .subscriptions

  await page.goto(`${consoleUrl}/subscriptions`)
  await page.getByLabel('Search').fill(id)
  await expect(page.locator(`tr[data-subscription="${taken}"]`)).toContainText('stream')
  await page.getByRole('button', { name: 'New subscription' }).click()

  // invalid values are refused beside their fields, by the protocol's schema, before any request
  await page.locator('#sub-name').fill('bad name!')
  await page.locator('#sub-topic').fill('game..scores')
  await page.locator('#sub-from').selectOption('offset')
  await page.locator('#sub-fromValue').fill('-3')
  await page.locator('#sub-maxDeliveries').fill('0')
  await page.getByRole('button', { name: 'Create subscription' }).click()
  await expect(page.getByTestId('sub-error-name')).toContainText("use letters, digits, '_' and '-'")
  await expect(page.getByTestId('sub-error-topic')).toContainText('topic:')
  await expect(page.getByTestId('sub-error-fromValue')).toBeVisible()
  await expect(page.getByTestId('sub-error-maxDeliveries')).toBeVisible()
  await expect(page.locator('#sub-name')).toHaveAttribute('aria-invalid', 'true')

  // the broker's refusal shows beside the field too: the name is taken
  await page.locator('#sub-name').fill(taken)
  await page.locator('#sub-topic').fill(topic)
  await page.locator('#sub-from').selectOption('earliest')
  await page.locator('#sub-maxDeliveries').fill('')
  await page.getByRole('button', { name: 'Create subscription' }).click()
  await expect(page.getByTestId('sub-error-name')).toHaveText(`subscription '${taken}' already exists`)
  const after = (await brokerApi<{ subscriptions: unknown[] }>('GET', '/v1/subscriptions')).body.subscriptions
  expect(after).toHaveLength(before.length)

  await page.locator('#sub-name').fill(name)
  await page.getByRole('button', { name: 'Create subscription' }).click()
  await expect(page).toHaveURL(new RegExp(`/subscriptions/${name}$`))
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name)
  const described = await brokerApi<{ mode: string; topic: string }>('GET', `/v1/subscriptions/${name}`)
  expect(described.body).toMatchObject({ mode: 'stream', topic })
  await expect(page.getByTestId('sub-lag')).toContainText('0')

  // 1,000 events: the lag climbs to 1,000 on the chart, split over both partitions
  await publishMany(topic, 1000)
  const chart = page.getByTestId('chart-subscription-lag')
  await expect(page.getByTestId('sub-lag')).toContainText('1,000')
  await expect.poll(() => num(chart, 'data-max-lag'), { timeout: 20_000 }).toBe(1000)
  await expect(chart.locator('path.recharts-line-curve')).toHaveCount(3)
  const p0 = await num(chart, 'data-last-partition0')
  const p1 = await num(chart, 'data-last-partition1')
  expect(p0 + p1).toBe(1000)
  expect(p0).toBeGreaterThan(0)
  expect(p1).toBeGreaterThan(0)

  // a consumer acks half: the chart's latest point falls to 500, then to 0 when it acks the rest
  const worker = consumer(name, 'e2e-worker')
  const consume = async (count: number) => {
    let got = 0
    while (got < count) {
      const batch = await worker.pull(Math.min(100, count - got))
      await worker.ack(batch)
      got += batch.length
    }
  }
  await consume(500)
  await expect.poll(() => num(chart, 'data-last-lag'), { timeout: 20_000 }).toBe(500)
  await expect(page.getByTestId('members-table')).toContainText('e2e-worker')
  await expect(page.getByTestId('members-table')).toContainText(`${topic}/0`)
  await expect(page.getByTestId('members-table')).toContainText(`${topic}/1`)
  await consume(500)
  await expect.poll(() => num(chart, 'data-last-lag'), { timeout: 20_000 }).toBe(0)
  await expect(page.getByTestId('sub-lag')).toHaveText(/Lag\s*0$/)
  // the history still shows the climb: a point holds its second's newest reading, so the 1,000 may
  // have given way to 500 within its second (the collector samples every 200 ms here)
  expect(await num(chart, 'data-max-lag')).toBeGreaterThanOrEqual(500)
  expect(await num(chart, 'data-points')).toBeGreaterThanOrEqual(3)
  await page.mouse.move(0, 0)
  await saveScreenshot(page, info, 'subscription', 'console-subscription.png')

  // the overview's consumer-lag chart saw it too
  await page.goto(consoleUrl)
  const overview = page.getByTestId('chart-consumer-lag')
  await expect.poll(() => num(overview, 'data-max-worst-lag')).toBeGreaterThanOrEqual(1000)
  expect(await num(overview, 'data-max-lag-total')).toBeGreaterThanOrEqual(1000)

  await page.goto(`${consoleUrl}/subscriptions`)
  await page.getByLabel('Search').fill(name)
  const row = page.locator(`tr[data-subscription="${name}"]`)
  await expect(row.locator('td').nth(2)).toHaveText('stream')
  await expect(row.locator('td').nth(4)).toHaveText('0')
  await saveScreenshot(page, info, 'subscriptions')
})

test('a subscription is paused, resumed, reset to the earliest event and deleted from its page', async ({
  page,
}) => {
  const { consoleUrl } = stack()
  const id = randomBytes(3).toString('hex')
  const topic = `e2e.chat-${id}`
  const name = `e2e-chat-${id}`
  expect((await brokerApi('POST', '/v1/topics', { name: topic, partitions: 1 })).status).toBe(201)
  expect((await brokerApi('POST', '/v1/subscriptions', { name, topic, from: 'latest' })).status).toBe(201)
  await publishMany(topic, 40, 'chat.message')
  const paused = async () =>
    (await brokerApi<{ paused: boolean }>('GET', `/v1/subscriptions/${name}`)).body.paused

  await page.goto(`${consoleUrl}/subscriptions/${name}`)
  await expect(page.getByTestId('sub-lag')).toContainText('40')
  await page.getByRole('button', { name: 'Pause' }).click()
  await expect(page.getByTestId('sub-state')).toContainText('paused')
  expect(await paused()).toBe(true)
  await page.getByRole('button', { name: 'Resume' }).click()
  await expect(page.getByTestId('sub-state')).toContainText('active')
  expect(await paused()).toBe(false)

  // read everything, then rewind: the lag is back
  const worker = consumer(name, 'e2e-reader')
  let read = 0
  while (read < 40) {
    const batch = await worker.pull(40)
    await worker.ack(batch)
    read += batch.length
  }
  await expect(page.getByTestId('sub-lag')).toHaveText(/Lag\s*0$/)
  page.on('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Reset position' }).click()
  await page.locator('#reset-to').selectOption('offset')
  await page.locator('#reset-value').fill('30')
  await page.getByRole('button', { name: 'Reset position' }).last().click()
  await expect(page.getByTestId('sub-lag')).toHaveText(/Lag\s*10$/)
  await page.getByRole('button', { name: 'Reset position' }).click()
  await page.locator('#reset-to').selectOption('earliest')
  await page.getByRole('button', { name: 'Reset position' }).last().click()
  await expect(page.getByTestId('sub-lag')).toHaveText(/Lag\s*40$/)

  await page.getByRole('button', { name: 'Delete' }).click()
  await expect(page).toHaveURL(/\/subscriptions$/)
  await expect(page.locator(`tr[data-subscription="${name}"]`)).toHaveCount(0)
  expect((await brokerApi('GET', `/v1/subscriptions/${name}`)).status).toBe(404)
})

test('a queue subscription with key ordering is created through the form and shows its ordering', async ({
  page,
}) => {
  const { consoleUrl } = stack()
  const id = randomBytes(3).toString('hex')
  const topic = `e2e.actions-${id}`
  const name = `e2e-ordered-${id}`
  expect((await brokerApi('POST', '/v1/topics', { name: topic, partitions: 2 })).status).toBe(201)

  await page.goto(`${consoleUrl}/subscriptions`)
  await page.getByRole('button', { name: 'New subscription' }).click()
  const form = page.getByRole('form', { name: 'New subscription' })
  // a stream keeps its partitions' order: the choice is only offered to queues
  await expect(form.getByLabel('Ordering')).toHaveCount(0)
  await form.getByLabel('Name').fill(name)
  await form.getByLabel('Topic or pattern').fill(topic)
  await form.getByLabel('Mode').selectOption('queue')
  await form.getByLabel('Ordering').selectOption('key')
  await page.getByRole('button', { name: 'Create subscription' }).click()

  await expect(page).toHaveURL(new RegExp(`/subscriptions/${name}$`))
  const described = await brokerApi<{ mode: string; ordering: string }>('GET', `/v1/subscriptions/${name}`)
  expect(described.body).toMatchObject({ mode: 'queue', ordering: 'key' })
  await expect(page.getByTestId('sub-ordering')).toContainText('key')
})
