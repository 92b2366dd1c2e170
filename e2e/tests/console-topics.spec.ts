import { randomBytes } from 'node:crypto'
import { createClient } from '@questlog/sdk-node'
import { ADMIN_KEY, brokerApi, stack } from '../stack-env'
import { saveScreenshot } from './console-screenshots'
import { expect, test } from './console-session'

test('a topic created and fed through the console shows its events, and HTTP publishes arrive live', async ({
  page,
}, info) => {
  const { consoleUrl } = stack()
  const name = `e2e.orders-${randomBytes(3).toString('hex')}`

  await page.goto(`${consoleUrl}/topics`)
  await page.getByRole('button', { name: 'New topic' }).click()
  await page.getByLabel('Name').fill(name)
  await page.getByLabel('Partitions').fill('3')
  await page.getByRole('button', { name: 'Create topic' }).click()

  await expect(page).toHaveURL(new RegExp(`/topics/${name.replace('.', '\\.')}$`))
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name)
  await expect(page.getByTestId('partitions-table').locator('tbody tr')).toHaveCount(3)
  await expect(page.getByTestId('no-events')).toBeVisible()
  // the broker really has it, with the partitions asked for
  const described = await brokerApi<{ partitions: number }>('GET', `/v1/topics/${name}`)
  expect(described.body.partitions).toBe(3)

  // produce through the UI
  await page.getByRole('button', { name: 'Produce a test event' }).click()
  await page.locator('#produce-type').fill('order.placed')
  await page.locator('#produce-key').fill('player-7')
  await page.locator('#produce-headers').fill('{"traceparent": "00-e2e-trace"}')
  await page.locator('#produce-data').fill('{"item": "sword", "qty": 2}')
  await page.getByRole('button', { name: 'Publish' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'Stored in partition' })).toContainText(
    'at offset 0',
  )

  const events = page.getByTestId('event')
  const placed = page.locator('[data-testid="event"][data-type="order.placed"]')
  await expect(placed).toHaveCount(1)
  await expect(placed.getByTestId('event-payload')).toHaveText(
    JSON.stringify({ item: 'sword', qty: 2 }, null, 2),
  )
  await expect(placed.getByTestId('event-headers')).toContainText('traceparent: 00-e2e-trace')
  await expect(placed).toContainText('player-7')

  // an event published by another client over HTTP appears without a reload
  await page.evaluate(() => {
    ;(globalThis as { noReload?: boolean }).noReload = true
  })
  const published = await brokerApi<{ partition: number; offset: string }>(
    'POST',
    `/v1/topics/${name}/events`,
    {
      type: 'order.shipped',
      key: 'player-9',
      data: { tracking: 'ZX-1' },
    },
  )
  expect(published.status).toBe(201)
  const shipped = page.locator(`[data-testid="event"][data-type="order.shipped"]`)
  await expect(shipped).toHaveCount(1, { timeout: 10_000 })
  await expect(shipped).toHaveAttribute('data-partition', String(published.body.partition))
  await expect(shipped.getByTestId('event-payload')).toContainText('"tracking": "ZX-1"')
  expect(await page.evaluate(() => (globalThis as { noReload?: boolean }).noReload)).toBe(true)
  await expect(page.getByTestId('topic-events')).toContainText('2')
  await saveScreenshot(page, info, 'topic', 'console-topic.png')

  // the browser's filters: by key, by type, by time, by partition + offset
  await page.locator('#browse-key').fill('player-9')
  await page.getByRole('button', { name: 'Show' }).click()
  await expect(events).toHaveCount(1)
  await expect(events.first()).toHaveAttribute('data-type', 'order.shipped')

  await page.locator('#browse-key').fill('')
  await page.locator('#browse-type').fill('order.placed')
  await page.getByRole('button', { name: 'Show' }).click()
  await expect(events).toHaveCount(1)
  await expect(events.first()).toHaveAttribute('data-type', 'order.placed')

  await page.locator('#browse-type').fill('')
  await page.getByRole('button', { name: 'Time', exact: true }).click()
  await page.locator('#browse-since').fill('1h')
  await page.getByRole('button', { name: 'Show' }).click()
  await expect(events).toHaveCount(2)
  await page.locator('#browse-since').fill(new Date(Date.now() + 60_000).toISOString())
  await page.getByRole('button', { name: 'Show' }).click()
  await expect(page.getByTestId('no-events')).toBeVisible()
  await expect(events).toHaveCount(0)

  await page.getByRole('button', { name: 'Offset', exact: true }).click()
  await page.locator('#browse-partition').selectOption(String(published.body.partition))
  await page.locator('#browse-from').fill(published.body.offset)
  await page.getByRole('button', { name: 'Show' }).click()
  await expect(events).toHaveCount(1)
  await expect(events.first()).toHaveAttribute('data-offset', published.body.offset)

  await page.goto(`${consoleUrl}/topics`)
  await page.getByLabel('Search').fill(name)
  const row = page.locator(`tr[data-topic="${name}"]`)
  await expect(row).toBeVisible()
  await expect(row.locator('td').nth(2)).toHaveText('2')
  await saveScreenshot(page, info, 'topics')
})

test("settings grow a topic's partitions but never shrink them, and deleting the topic removes it", async ({
  page,
}) => {
  const { consoleUrl } = stack()
  const name = `e2e.settings-${randomBytes(3).toString('hex')}`
  expect((await brokerApi('POST', '/v1/topics', { name, partitions: 2 })).status).toBe(201)

  await page.goto(`${consoleUrl}/topics/${name}`)
  await page.getByRole('button', { name: 'Edit settings' }).click()
  await page.getByLabel('Partitions').fill('1')
  await page.getByRole('button', { name: 'Save settings' }).click()
  await expect(page.getByTestId('error-partitions')).toHaveText('partitions can only grow (the topic has 2)')

  await page.getByLabel('Partitions').fill('4')
  await page.getByLabel('Retention time (ms)').fill('3600000')
  await page.getByRole('button', { name: 'Save settings' }).click()
  await expect(page.getByTestId('partitions-table').locator('tbody tr')).toHaveCount(4)
  const described = await brokerApi<{ partitions: number; retentionMs: number }>('GET', `/v1/topics/${name}`)
  expect(described.body).toMatchObject({ partitions: 4, retentionMs: 3_600_000 })
  page.once('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Delete' }).click()
  await expect(page).toHaveURL(/\/topics$/)
  await expect(page.locator(`tr[data-topic="${name}"]`)).toHaveCount(0)
  expect((await brokerApi('GET', `/v1/topics/${name}`)).status).toBe(404)
})

test("a topic's page shows who is on the presence channel of its name, and follows them", async ({
  page,
}) => {
  const { consoleUrl, brokerUrl } = stack()
  const name = `e2e.lobby-${randomBytes(3).toString('hex')}`
  expect((await brokerApi('POST', '/v1/topics', { name })).status).toBe(201)
  await page.goto(`${consoleUrl}/topics/${name}`)
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name)
  await expect(page.getByTestId('presence-panel')).toHaveCount(0)
  const bus = createClient({ brokers: [brokerUrl], token: ADMIN_KEY })
  try {
    const ann = bus.presence(name, { member: 'ann' })
    const bob = bus.presence(name, { member: 'bob' })
    await ann.enter({ team: 'red' })
    await bob.enter({ team: 'blue' })
    const panel = page.getByTestId('presence-panel')
    await expect(panel.getByRole('heading')).toHaveText('Presence: 2 members')
    await expect(panel.locator('tbody tr')).toHaveText([/ann.*"team":"red"/, /bob.*"team":"blue"/])
    await bob.leave()
    await expect(panel.getByRole('heading')).toHaveText('Presence: 1 member')
  } finally {
    await bus.close()
  }
})

test('a compacted topic is created through the form with its delete retention', async ({ page }) => {
  const { consoleUrl } = stack()
  const name = `e2e.profiles-${randomBytes(3).toString('hex')}`

  await page.goto(`${consoleUrl}/topics`)
  await page.getByRole('button', { name: 'New topic' }).click()
  await page.getByLabel('Name').fill(name)
  // the delete retention only applies to a compacted topic, so it appears with compaction
  await expect(page.getByLabel('Delete retention (ms)')).toHaveCount(0)
  await page.getByLabel('Cleanup').selectOption('compact')
  await page.getByLabel('Delete retention (ms)').fill('60000')
  await page.getByRole('button', { name: 'Create topic' }).click()

  await expect(page).toHaveURL(new RegExp(`/topics/${name.replace('.', '\\.')}$`))
  const described = await brokerApi<{ cleanup: string; deleteRetentionMs: number }>(
    'GET',
    `/v1/topics/${name}`,
  )
  expect(described.body).toMatchObject({ cleanup: 'compact', deleteRetentionMs: 60_000 })
  await expect(page.getByTestId('topic-cleanup')).toContainText('compact')
})
