import { randomBytes } from 'node:crypto'
import { brokerApi, stack, topicNames } from '../stack-env'
import { saveScreenshot } from './console-screenshots'
import { expect, test } from './console-session'

test('the create-topic form shows each invalid field and creates nothing', async ({ page }, info) => {
  const { consoleUrl } = stack()
  const before = await topicNames()

  await page.goto(`${consoleUrl}/topics`)
  await page.getByRole('button', { name: 'New topic' }).click()
  await page.getByLabel('Name').fill('bad name!')
  await page.getByLabel('Partitions').fill('0')
  await page.getByLabel('Retention time (ms)').fill('10')
  await page.getByLabel('Dedupe window (ms)').fill('two minutes')
  await page.getByLabel('Largest event (bytes)').fill('999999999')
  await page.getByRole('button', { name: 'Create topic' }).click()

  await expect(page.getByTestId('error-name')).toContainText("use letters, digits, '_' and '-'")
  await expect(page.getByTestId('error-partitions')).toHaveText('a topic has at least 1 partition')
  await expect(page.getByTestId('error-retentionMs')).toHaveText('retention is at least 1000 ms')
  await expect(page.getByTestId('error-dedupeWindowMs')).toHaveText('enter a number')
  await expect(page.getByTestId('error-maxEventBytes')).toHaveText('events are at most 8 MiB')
  await expect(page.getByLabel('Name')).toHaveAttribute('aria-invalid', 'true')
  await expect(page).toHaveURL(/\/topics$/)
  await saveScreenshot(page, info, 'create-topic-errors')
  expect(await topicNames()).toEqual(before)

  // a name the broker already has: only the broker knows, and its answer lands on the field
  const taken = `e2e.taken-${randomBytes(3).toString('hex')}`
  expect((await brokerApi('POST', '/v1/topics', { name: taken })).status).toBe(201)
  await page.getByLabel('Name').fill(taken)
  await page.getByLabel('Partitions').fill('2')
  await page.getByLabel('Retention time (ms)').fill('')
  await page.getByLabel('Dedupe window (ms)').fill('')
  await page.getByLabel('Largest event (bytes)').fill('')
  await page.getByRole('button', { name: 'Create topic' }).click()
  await expect(page.getByTestId('error-name')).toContainText('already exists')
  await expect(page.getByTestId('error-partitions')).toHaveCount(0)
  await expect(page).toHaveURL(/\/topics$/)
  const described = await brokerApi<{ partitions: number }>('GET', `/v1/topics/${taken}`)
  expect(described.body.partitions).toBe(1)
  expect((await topicNames()).sort()).toEqual([...before, taken].sort())
})
