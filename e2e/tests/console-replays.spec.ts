import { randomBytes } from 'node:crypto'
import type { Page } from '@playwright/test'
import { publishMany } from '../consumer'
import { brokerApi, stack } from '../stack-env'
import { saveScreenshot } from './console-screenshots'
import { expect, test } from './console-session'

async function startReplay(page: Page, fields: { topic: string; target: string; pace?: string }) {
  await page.getByRole('button', { name: 'New replay job' }).click()
  await page.locator('#replay-topic').fill(fields.topic)
  await page.locator('#replay-range').selectOption('offset')
  await page.locator('#replay-fromOffset').fill('0')
  await page.locator('#replay-target').selectOption('subscription')
  await page.locator('#replay-targetName').fill(fields.target)
  if (fields.pace) await page.locator('#replay-maxEventsPerSecond').fill(fields.pace)
  await page.getByRole('button', { name: 'Start replay' }).click()
  await expect(page.getByRole('form', { name: 'New replay job' })).toHaveCount(0)
}

const valueNow = async (page: Page, target: string) =>
  Number(
    await page
      .locator('tr[data-replay]', { hasText: `subscription ${target}` })
      .getByRole('progressbar')
      .getAttribute('aria-valuenow'),
  )

test('a replay job runs to 100 % on a live progress bar; a paced one is cancelled midway', async ({
  page,
}, info) => {
  test.setTimeout(90_000)
  const { consoleUrl } = stack()
  const id = randomBytes(3).toString('hex')
  const topic = `e2e.matches-${id}`
  const full = `e2e-replay-full-${id}`
  const paced = `e2e-replay-paced-${id}`
  expect((await brokerApi('POST', '/v1/topics', { name: topic, partitions: 1 })).status).toBe(201)
  await publishMany(topic, 1500, 'game.match.end')

  const replays = async () =>
    (await brokerApi<{ replays: unknown[] }>('GET', '/v1/replays')).body.replays.length
  const before = await replays()
  await page.goto(`${consoleUrl}/replay-jobs`)
  // invalid: a range that ends before it starts, refused beside the field
  await page.getByRole('button', { name: 'New replay job' }).click()
  await page.locator('#replay-topic').fill(topic)
  await page.locator('#replay-fromOffset').fill('10')
  await page.locator('#replay-toOffset').fill('5')
  await page.locator('#replay-targetName').fill(full)
  await page.getByRole('button', { name: 'Start replay' }).click()
  await expect(page.getByTestId('replay-error-toOffset')).toHaveText('toOffset is before fromOffset')
  // a partition the topic lacks: only the broker knows, and its answer lands beside the field
  await page.locator('#replay-toOffset').fill('')
  await page.locator('#replay-partition').fill('3')
  await page.getByRole('button', { name: 'Start replay' }).click()
  await expect(page.getByTestId('replay-error-partition')).toHaveText(`topic '${topic}' has partitions 0..0`)
  await expect(page.getByTestId('replay-error-toOffset')).toHaveCount(0)
  await page.getByRole('button', { name: 'Cancel' }).click()
  expect(await replays()).toBe(before)

  await startReplay(page, { topic, target: full })
  const fullRow = page.locator('tr[data-replay]', { hasText: `subscription ${full}` })
  await expect(fullRow.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '100')
  await expect(fullRow.getByTestId('replay-status')).toHaveText('done')
  await expect(fullRow).toContainText('1,500 / 1,500')
  // the events really went into the target subscription
  const target = await brokerApi<{ lag: number }>('GET', `/v1/subscriptions/${full}`)
  expect(target.status).toBe(200)
  expect(target.body.lag).toBe(1500)

  // paced at 100 events/s, the job takes 15 s: it is cancelled after its first pages
  await startReplay(page, { topic, target: paced, pace: '100' })
  const pacedRow = page.locator('tr[data-replay]', { hasText: `subscription ${paced}` })
  await expect(pacedRow.getByTestId('replay-status')).toHaveText('running')
  await expect.poll(() => valueNow(page, paced)).toBeGreaterThan(0)
  expect(await valueNow(page, paced)).toBeLessThan(100)
  await pacedRow.getByRole('button', { name: 'Cancel' }).click()
  await expect(pacedRow.getByTestId('replay-status')).toHaveText('cancelled')
  await expect(pacedRow.getByRole('button', { name: 'Cancel' })).toHaveCount(0)
  // it stays stopped short of the end
  await page.waitForTimeout(6000)
  await expect(pacedRow.getByTestId('replay-status')).toHaveText('cancelled')
  expect(await valueNow(page, paced)).toBeLessThan(100)
  await expect(page.locator('tr[data-replay]')).toHaveCount(before + 2)
  await saveScreenshot(page, info, 'replay-jobs')
})
