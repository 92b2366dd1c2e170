import { randomBytes } from 'node:crypto'
import AxeBuilder from '@axe-core/playwright'
import type { Page, TestInfo } from '@playwright/test'
import { consumer, publishMany } from '../consumer'
import { brokerApi, stack } from '../stack-env'
import { saveScreenshot } from './console-screenshots'
import { expect, test } from './console-session'

/** WCAG 2.1 A and AA, as axe-core tags them. */
const WCAG_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']
const WIDTHS = [1440, 390] as const
const SCHEMES = ['light', 'dark'] as const
/** The README's pictures of the dark theme and of a phone, refreshed with QUESTLOG_DOCS_SCREENSHOTS=1. */
const DOCS_PICTURES: Record<string, string> = {
  'overview-dark-1440': 'console-dark.png',
  'topics-light-390': 'console-phone.png',
}

const id = randomBytes(3).toString('hex')
const topic = `e2e.a11y.a-topic-name-long-enough-to-wrap-on-a-phone-screen-${id}`
const subscription = `e2e-a11y-subscription-with-a-long-name-${id}`
const orders = `${topic}-orders`
const copy = `${topic}-copy`

/** One of each thing the screens list: a topic with events, a subscription with a dead letter, a replay job. */
test.beforeAll(async () => {
  for (const name of [topic, orders, copy])
    expect((await brokerApi('POST', '/v1/topics', { name, partitions: name === topic ? 2 : 1 })).status).toBe(
      201,
    )
  const created = await brokerApi('POST', '/v1/subscriptions', {
    name: subscription,
    topic: orders,
    mode: 'queue',
    from: 'earliest',
    maxDeliveries: 1,
  })
  expect(created.status).toBe(201)
  await publishMany(topic, 30, 'game.score')
  // a payload wider than a phone, in the message browser and as a dead letter
  const big = {
    type: 'inventory.snapshot',
    key: 'player-with-a-big-bag',
    data: { items: Array.from({ length: 40 }, (_, i) => `a-rather-long-item-name-number-${i}`) },
  }
  expect((await brokerApi('POST', `/v1/topics/${topic}/events`, big)).status).toBe(201)
  expect((await brokerApi('POST', `/v1/topics/${orders}/events`, big)).status).toBe(201)
  // a consumer that naks what it gets: past maxDeliveries 1 the broker gives up on it
  const worker = consumer(subscription, 'e2e-a11y-worker')
  await expect
    .poll(
      async () => {
        for (const d of await worker.pull(10, 200)) await worker.nak(d, 0)
        return (await brokerApi<{ deadLetters: number }>('GET', `/v1/subscriptions/${subscription}`)).body
          .deadLetters
      },
      { timeout: 15_000 },
    )
    .toBe(1)
  const replay = await brokerApi('POST', '/v1/replays', { topic, fromOffset: 0, target: { topic: copy } })
  expect(replay.status).toBe(201)
})

/** The console's screens, each with what shows it has loaded. */
const SCREENS: Array<{ name: string; path: string; ready: (page: Page) => Promise<void> }> = [
  { name: 'overview', path: '/', ready: (p) => expect(p.getByTestId('chart-events')).toBeVisible() },
  {
    name: 'topics',
    path: '/topics',
    ready: async (p) => {
      await p.getByLabel('Search').fill(id)
      await expect(p.getByRole('link', { name: topic, exact: true })).toBeVisible()
    },
  },
  {
    name: 'topic',
    path: `/topics/${topic}`,
    ready: (p) => expect(p.getByText('inventory.snapshot').first()).toBeVisible(),
  },
  { name: 'brokers', path: '/brokers', ready: (p) => expect(p.locator('tbody tr').first()).toBeVisible() },
  {
    name: 'subscriptions',
    path: '/subscriptions',
    ready: async (p) => {
      await p.getByLabel('Search').fill(id)
      await expect(p.getByRole('link', { name: subscription, exact: true })).toBeVisible()
    },
  },
  {
    name: 'subscription',
    path: `/subscriptions/${subscription}`,
    ready: (p) => expect(p.getByTestId('dead-letter').first()).toBeVisible(),
  },
  {
    name: 'replay-jobs',
    path: '/replay-jobs',
    ready: (p) => expect(p.locator('tr[data-replay]').first()).toBeVisible(),
  },
  {
    name: 'dead-letters',
    path: '/dead-letters',
    ready: (p) => expect(p.locator(`tr[data-subscription="${subscription}"]`)).toBeVisible(),
  },
  { name: 'access', path: '/access', ready: (p) => expect(p.locator('tbody tr').first()).toBeVisible() },
  { name: 'audit', path: '/audit', ready: (p) => expect(p.getByTestId('audit-entry').first()).toBeVisible() },
  {
    name: 'not-found',
    path: `/no-such-screen-${id}`,
    ready: (p) => expect(p.getByRole('heading', { name: 'Page not found' })).toBeVisible(),
  },
]

/** Axe's violations as short lines a failed run can be read from: rule, impact, the first elements. */
async function violations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(WCAG_AA).analyze()
  return result.violations.map(
    (v) =>
      `${v.id} (${v.impact}, ${v.nodes.length}×): ${v.nodes
        .slice(0, 3)
        .map((n) => n.target.join(' '))
        .join(' | ')}`,
  )
}

/** Whether the page itself scrolls sideways (a wide table scrolling inside its own box is fine). */
const overflow = (page: Page) =>
  page.evaluate<{ scrollWidth: number; innerWidth: number }>(
    '({ scrollWidth: (document.scrollingElement ?? document.documentElement).scrollWidth, innerWidth: window.innerWidth })',
  )

/** Each scheme and width of the screen now loading: no axe violation, no sideways scroll, a screenshot. */
async function checkEveryVariant(page: Page, info: TestInfo, name: string, load: () => Promise<void>) {
  for (const scheme of SCHEMES) {
    for (const width of WIDTHS) {
      await page.emulateMedia({ colorScheme: scheme })
      await page.setViewportSize({ width, height: width > 600 ? 900 : 844 })
      await load()
      const label = `${name} ${scheme} ${width}px`
      expect.soft(await violations(page), `axe violations on ${label}`).toEqual([])
      const o = await overflow(page)
      expect.soft(o.scrollWidth, `page width on ${label}`).toBeLessThanOrEqual(o.innerWidth)
      const shot = `${name}-${scheme}-${width}`
      await saveScreenshot(page, info, shot, DOCS_PICTURES[shot])
    }
  }
}

for (const screen of SCREENS) {
  test(`${screen.name}: WCAG 2.1 AA in light and dark, at 1440 and 390 px, no sideways scroll`, async ({
    page,
  }, info) => {
    test.setTimeout(90_000)
    await checkEveryVariant(page, info, screen.name, async () => {
      await page.goto(stack().consoleUrl + screen.path)
      await screen.ready(page)
    })
  })
}

test('signed out, the login page and a 404: WCAG 2.1 AA in light and dark, at 1440 and 390 px, no sideways scroll', async ({
  browser,
}, info) => {
  const context = await browser.newContext()
  const page = await context.newPage()
  await checkEveryVariant(page, info, 'login', async () => {
    await page.goto(`${stack().consoleUrl}/login`)
    await expect(page.getByLabel('Admin key')).toBeVisible()
  })
  await checkEveryVariant(page, info, 'not-found-signed-out', async () => {
    await page.goto(`${stack().consoleUrl}/no-such-screen-${id}`)
    await expect(page.getByRole('link', { name: 'Sign in' })).toBeVisible()
  })
  await context.close()
})
