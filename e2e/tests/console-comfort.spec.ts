import { randomBytes } from 'node:crypto'
import { ADMIN_KEY, brokerApi, stack } from '../stack-env'
import { expect, test } from './console-session'

// a zone that is not UTC, so the local time and the UTC one differ in text
test.use({ timezoneId: 'America/New_York' })

test('times say their zone, and "Times in UTC" shows them in UTC until turned off, across reloads', async ({
  page,
}) => {
  const { brokerUrl, consoleUrl } = stack()
  // an entry of its own, whatever ran before: a refused request is audited
  const bad = `ql_t${randomBytes(3).toString('hex')}00000_${'t'.repeat(43)}`
  expect(
    (await fetch(`${brokerUrl}/v1/topics`, { headers: { authorization: `Bearer ${bad}` } })).status,
  ).toBe(401)
  await page.goto(`${consoleUrl}/audit`)
  const when = page.getByTestId('audit-entry').first().locator('time')
  await expect(when).toHaveText(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} (GMT-5|GMT-4|EST|EDT)$/)
  const iso = await when.getAttribute('datetime')
  expect(iso).toMatch(/Z$/)

  await page.getByLabel('Times in UTC').check()
  // the same moment, now in UTC: the <time> element's own value, read as text (found by it: the
  // live log may have put a newer entry on top meanwhile)
  await expect(page.locator(`time[datetime="${iso}"]`).first()).toHaveText(
    `${iso!.replace('T', ' ').replace('Z', '')} UTC`,
  )

  await page.reload()
  await expect(page.getByLabel('Times in UTC')).toBeChecked()
  await expect(page.getByTestId('audit-entry').first().locator('time')).toHaveText(/ UTC$/)
  await page.goto(`${consoleUrl}/`)
  await expect(page.getByTestId('chart-events')).toContainText('times in UTC')

  await page.getByLabel('Times in UTC').uncheck()
  await expect(page.getByTestId('chart-events')).toContainText(/times in (GMT-5|GMT-4|EST|EDT)/)
})

test('Escape closes an open form and gives focus back to the button that opened it', async ({ page }) => {
  await page.goto(`${stack().consoleUrl}/topics`)
  const open = page.getByRole('button', { name: 'New topic' })
  await open.click()
  const form = page.getByRole('form', { name: 'New topic' })
  await expect(form).toBeVisible()
  await form.getByRole('textbox').first().focus()
  await page.keyboard.press('Escape')
  await expect(form).toHaveCount(0)
  await expect(open).toBeFocused()
})

test('the skip link is the first stop of the keyboard and leads to the main content', async ({ page }) => {
  await page.goto(`${stack().consoleUrl}/brokers`)
  await page.keyboard.press('Tab')
  const skip = page.getByRole('link', { name: 'Skip to main content' })
  await expect(skip).toBeFocused()
  await expect(skip).toBeInViewport()
  await page.keyboard.press('Enter')
  await expect(page.locator('main#main')).toBeFocused()
})

test('an unknown address shows a 404 inside the console, with its sidebar', async ({ page }) => {
  const res = await page.goto(`${stack().consoleUrl}/no-such-screen`)
  expect(res?.status()).toBe(404)
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found')
  await expect(
    page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Topics' }),
  ).toBeVisible()
  await page.getByRole('main').getByRole('link', { name: 'overview' }).click()
  await expect(page).toHaveURL(`${stack().consoleUrl}/`)
})

test('the sidebar stays in view on a long page, and on a phone it is a top bar with a menu', async ({
  page,
}) => {
  const { consoleUrl } = stack()
  await page.setViewportSize({ width: 1440, height: 600 })
  await page.goto(`${consoleUrl}/`)
  await expect(page.getByTestId('chart-events')).toBeVisible()
  await page.mouse.wheel(0, 2000)
  await expect.poll(() => page.evaluate<number>('window.scrollY')).toBeGreaterThan(300)
  const nav = page.getByRole('navigation', { name: 'Main' })
  await expect(nav.getByRole('link', { name: 'Audit log' })).toBeInViewport()

  await page.setViewportSize({ width: 390, height: 844 })
  const menu = nav.getByRole('button', { name: 'Menu' })
  await expect(menu).toHaveAttribute('aria-expanded', 'false')
  await expect(nav.getByRole('link', { name: 'Topics' })).toBeHidden()
  await menu.click()
  await expect(nav.getByRole('link', { name: 'Topics' })).toBeVisible()
  await page.keyboard.press('Escape')
  await expect(nav.getByRole('link', { name: 'Topics' })).toBeHidden()
  await menu.click()
  await nav.getByRole('link', { name: 'Topics' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Topics')
  // following a link closes the menu
  await expect(menu).toHaveAttribute('aria-expanded', 'false')
})

test('the audit log pages back past the newest 200, finds within a page, and exports it', async ({
  page,
}) => {
  const { brokerUrl, consoleUrl } = stack()
  // 230 refused requests, each naming a key id of its own: the log sums up a source's refusals
  // per minute, so each is a row
  const marker = randomBytes(3).toString('hex')
  for (let i = 0; i < 230; i++) {
    const bad = `ql_b${marker}${String(i).padStart(5, '0')}_${'b'.repeat(43)}`
    const res = await fetch(`${brokerUrl}/v1/topics`, { headers: { authorization: `Bearer ${bad}` } })
    expect(res.status).toBe(401)
  }
  expect((await brokerApi('GET', '/v1/topics', undefined, ADMIN_KEY)).status).toBe(200)

  await page.goto(`${consoleUrl}/audit`)
  const entries = page.getByTestId('audit-entry')
  await expect(entries).toHaveCount(200)
  await expect(page.getByTestId('audit-page')).toHaveText('Newest entries, live')
  const newestEnd = await entries.last().locator('time').getAttribute('datetime')
  await page.getByRole('button', { name: 'Older' }).click()
  await expect(page.getByTestId('audit-page')).toHaveText(/^Entries before #\d+$/)
  await expect(entries.first()).toBeVisible()
  // the older page goes on from where the newest one ended
  const olderStart = await entries.first().locator('time').getAttribute('datetime')
  expect(Date.parse(olderStart!)).toBeLessThanOrEqual(Date.parse(newestEnd!))
  await expect(page.getByRole('button', { name: 'Newer' })).toBeEnabled()
  await page.getByRole('button', { name: 'Newest' }).click()
  await expect(page.getByTestId('audit-page')).toHaveText('Newest entries, live')

  // find: only what matches on this page; the admin's own listing is not a refusal
  await page.getByLabel('Find on this page').fill('unauthenticated')
  await expect(entries.first()).toHaveAttribute('data-outcome', 'unauthenticated')
  for (const outcome of await entries.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-outcome'))))
    expect(outcome).toBe('unauthenticated')

  const download = page.waitForEvent('download')
  const shown = await entries.count()
  await page.getByRole('button', { name: `Export ${shown} as JSON lines` }).click()
  const file = await download
  expect(file.suggestedFilename()).toBe('audit.jsonl')
  const lines = (await (await file.createReadStream()).toArray()).join('').trim().split('\n')
  expect(lines.length).toBe(shown)
  expect(JSON.parse(lines[0]!).outcome).toBe('unauthenticated')
})
