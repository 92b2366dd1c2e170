import { randomBytes } from 'node:crypto'
import { consumer, type Delivery } from '../consumer'
import { brokerApi, stack } from '../stack-env'
import { saveScreenshot } from './console-screenshots'
import { expect, test } from './console-session'

test('an event nakked past maxDeliveries shows as a dead letter with its reason and count, and redrive delivers it again', async ({
  page,
}, info) => {
  const { consoleUrl } = stack()
  const id = randomBytes(3).toString('hex')
  const topic = `e2e.orders-${id}`
  const name = `e2e-billing-${id}`
  expect((await brokerApi('POST', '/v1/topics', { name: topic, partitions: 1 })).status).toBe(201)
  const created = await brokerApi('POST', '/v1/subscriptions', {
    name,
    topic,
    mode: 'queue',
    from: 'earliest',
    maxDeliveries: 2,
  })
  expect(created.status).toBe(201)
  const published = await brokerApi<{ id: string }>('POST', `/v1/topics/${topic}/events`, {
    type: 'order.placed',
    key: 'player-3',
    data: { item: 'cursed-sword', price: 13 },
  })
  expect(published.status).toBe(201)

  await page.goto(`${consoleUrl}/subscriptions/${name}`)
  await expect(page.getByTestId('no-dead-letters')).toBeVisible()

  // a failing consumer naks every delivery; after two the broker gives up on the event
  const worker = consumer(name, 'e2e-billing-worker')
  let deliveries = 0
  for (let round = 0; round < 6; round++) {
    const got = await worker.pull(10, 500)
    for (const d of got) await worker.nak(d, 0)
    deliveries += got.length
    const report = await brokerApi<{ deadLetters: number }>('GET', `/v1/subscriptions/${name}`)
    if (report.body.deadLetters === 1) break
  }
  expect(deliveries).toBe(2)

  const letter = page.getByTestId('dead-letter')
  await expect(letter).toHaveCount(1)
  await expect(letter.getByTestId('dead-letter-reason')).toHaveText(
    'not acked after 2 deliveries (maxDeliveries)',
  )
  await expect(letter.getByTestId('dead-letter-deliveries')).toHaveText('2')
  await expect(letter.getByTestId('dead-letter-payload')).toHaveText(
    JSON.stringify({ item: 'cursed-sword', price: 13 }, null, 2),
  )
  await expect(letter).toContainText('order.placed')
  await expect(page.getByTestId('sub-dead-letters')).toContainText('1')
  await saveScreenshot(page, info, 'subscription-dead-letters')

  await page.goto(`${consoleUrl}/dead-letters`)
  await expect(page.locator(`tr[data-subscription="${name}"]`)).toContainText('1')
  await saveScreenshot(page, info, 'dead-letters')
  await page.getByRole('link', { name }).click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name)

  // redrive the selected letter: it leaves the list and a consumer receives the same event again
  page.on('dialog', (d) => void d.accept())
  await expect(page.getByRole('button', { name: 'Redrive selected (0)' })).toBeDisabled()
  await letter.getByRole('checkbox').check()
  await page.getByRole('button', { name: 'Redrive selected (1)' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'Redriven 1 event' })).toBeVisible()
  await expect(letter).toHaveCount(0)
  await expect(page.getByTestId('no-dead-letters')).toBeVisible()
  await expect(page.getByTestId('sub-dead-letters')).toHaveText(/Dead letters\s*0$/)

  let again: Delivery[] = []
  for (let i = 0; i < 5 && again.length === 0; i++) again = await worker.pull(10, 1000)
  expect(again).toHaveLength(1)
  expect(again[0]?.event.id).toBe(published.body.id)
  expect(again[0]?.deliveries).toBe(1)
  await worker.ack(again)
})

test('"redrive all" empties the dead letters of a subscription', async ({ page }) => {
  const { consoleUrl } = stack()
  const id = randomBytes(3).toString('hex')
  const topic = `e2e.refunds-${id}`
  const name = `e2e-refunds-${id}`
  expect((await brokerApi('POST', '/v1/topics', { name: topic, partitions: 1 })).status).toBe(201)
  expect(
    (
      await brokerApi('POST', '/v1/subscriptions', {
        name,
        topic,
        mode: 'queue',
        from: 'earliest',
        maxDeliveries: 1,
      })
    ).status,
  ).toBe(201)
  const events = [1, 2, 3].map((n) => ({ type: 'refund.asked', data: { n } }))
  expect((await brokerApi('POST', `/v1/topics/${topic}/events`, { events })).status).toBe(201)
  const worker = consumer(name, 'e2e-refunder')
  for (let round = 0; round < 6; round++) {
    for (const d of await worker.pull(10, 300)) await worker.nak(d, 0)
    const report = await brokerApi<{ deadLetters: number }>('GET', `/v1/subscriptions/${name}`)
    if (report.body.deadLetters === 3) break
  }

  await page.goto(`${consoleUrl}/subscriptions/${name}`)
  await expect(page.getByTestId('dead-letter')).toHaveCount(3)
  page.on('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Redrive all' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'Redriven 3 events' })).toBeVisible()
  await expect(page.getByTestId('dead-letter')).toHaveCount(0)
  const redelivered = await worker.pull(10, 1000)
  expect(redelivered.map((d) => (d.event.data as { n: number }).n).sort()).toEqual([1, 2, 3])
})
