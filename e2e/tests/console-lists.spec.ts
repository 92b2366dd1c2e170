import { expect, type Page, test } from '@playwright/test'
import { inParallel, type OwnCluster, ownCluster } from './console-scale'
import { saveScreenshot } from './console-screenshots'

const TOPICS = 1000
const SUBSCRIPTIONS = 1000
const pad = (i: number) => String(i).padStart(4, '0')

let cluster: OwnCluster
test.beforeAll(async () => {
  test.setTimeout(600_000)
  cluster = await ownCluster()
  const names = Array.from({ length: TOPICS }, (_, i) => `scale.${i % 2 ? 'match' : 'chat'}-${pad(i)}`)
  await inParallel(names, 8, async (name) => {
    const res = await cluster.api('POST', '/v1/topics', { name, partitions: 2 })
    if (res.status !== 201) throw new Error(`creating ${name}: ${res.status}`)
  })
  await cluster.api('POST', '/v1/topics/scale.match-0001/events', {
    events: Array.from({ length: 30 }, (_, i) => ({ key: `p${i}`, data: { i } })),
  })
  await inParallel(
    Array.from({ length: SUBSCRIPTIONS }, (_, i) => i),
    8,
    async (i) => {
      const res = await cluster.api('POST', '/v1/subscriptions', {
        name: `sub-${pad(i)}`,
        topic: names[i]!,
        mode: i % 2 ? 'queue' : 'stream',
        from: 'earliest',
      })
      if (res.status !== 201)
        throw new Error(`creating sub-${pad(i)}: ${res.status} ${JSON.stringify(res.body)}`)
    },
  )
})
test.afterAll(async () => {
  await cluster?.stop()
})

/** Every response of the page that failed, from now on (4xx/5xx, or no response at all). */
function failures(page: Page): string[] {
  const failed: string[] = []
  page.on('response', (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`)
  })
  // a prefetch the router drops when the operator moves on is aborted, not failed
  page.on('requestfailed', (r) => {
    if (r.failure()?.errorText !== 'net::ERR_ABORTED')
      failed.push(`failed ${r.url()}: ${r.failure()?.errorText}`)
  })
  return failed
}

/** Milliseconds from a click on the sidebar link to the pager showing the whole count. */
async function timeToList(page: Page, link: string, range: RegExp): Promise<number> {
  const started = Date.now()
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link }).click()
  await expect(page.getByTestId('pager-range')).toHaveText(range)
  return Date.now() - started
}

test('a thousand topics and a thousand subscriptions list in pages, searched by the broker, with no failed request', async ({
  page,
}, info) => {
  const failed = failures(page)
  await page.goto(`${cluster.consoleUrl}/replay-jobs`)
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Replay jobs')

  const topicsMs = await timeToList(page, 'Topics', /^1–50 of 1,000 topics$/)
  const table = page.getByTestId('topics-table')
  await expect(table.locator('tbody tr')).toHaveCount(50)
  // one query a page: no request per row (the old list batched one topics.get per row into a 414)
  // searched by part of a name, in any case
  await page.getByLabel('Search').fill('MATCH-000')
  await expect(page.getByTestId('pager-range')).toHaveText('1–5 of 5 topics')
  await expect(table.locator('tbody tr').first()).toHaveAttribute('data-topic', 'scale.match-0001')
  await expect(table.locator('tr[data-topic="scale.match-0001"] td').nth(2)).toHaveText('30')
  // sorted by the broker: the one topic with events first
  await page.getByLabel('Search').fill('')
  await page.getByRole('button', { name: /^Events/ }).click()
  await expect(table.locator('tbody tr').first()).toHaveAttribute('data-topic', 'scale.match-0001')
  await page.getByRole('button', { name: 'Next' }).click()
  await expect(page.getByTestId('pager-range')).toHaveText('51–100 of 1,000 topics')
  await saveScreenshot(page, info, 'topics-1000')

  const subsMs = await timeToList(page, 'Subscriptions', /^1–50 of 1,000 subscriptions$/)
  const subs = page.getByTestId('subscriptions-table')
  await expect(subs.locator('tbody tr')).toHaveCount(50)
  await page.getByLabel('Search').fill('sub-0001')
  await expect(page.getByTestId('pager-range')).toHaveText('1–1 of 1 subscriptions')
  // lag in events and in time, once the collector has been round the thousand
  const row = subs.locator('tr[data-subscription="sub-0001"]')
  await expect(row.locator('td').nth(4)).toHaveText('30', { timeout: 30_000 })
  await expect(row.getByTestId('lag-seconds')).toHaveText(/^\d+ (s|min)/)
  await page.getByLabel('Search').fill('')
  await page.getByLabel('Mode').selectOption('queue')
  await expect(page.getByTestId('pager-range')).toHaveText('1–50 of 500 subscriptions')
  await saveScreenshot(page, info, 'subscriptions-1000')

  info.annotations.push({ type: 'figures', description: `topics ${topicsMs} ms, subscriptions ${subsMs} ms` })
  console.log(`lists of 1,000: topics in ${topicsMs} ms, subscriptions in ${subsMs} ms`)
  expect(failed).toEqual([])
  // the times are printed, not asserted: speed is measured, the test proves the lists work at this size
})
