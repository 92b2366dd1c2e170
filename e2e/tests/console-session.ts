import { test as base, expect, type Page } from '@playwright/test'
import { ADMIN_KEY, stack } from '../stack-env'

/** Signs in to the console through its login page, as an operator would. */
export async function signIn(page: Page, key = ADMIN_KEY): Promise<void> {
  await page.goto(`${stack().consoleUrl}/login`)
  await page.getByLabel('Admin key').fill(key)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByTestId('signed-in-as')).toBeVisible()
}

/**
 * What Chromium refused under the console's Content-Security-Policy on `page`, from now on:
 * it reports each refused script, style or frame on the console.
 */
export function cspRefusals(page: Page): string[] {
  const refused: string[] = []
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) refused.push(m.text())
  })
  return refused
}

/**
 * Playwright's `test` whose page is signed in with the admin key before each test, and
 * in which nothing the page does is refused by the console's Content-Security-Policy.
 */
export const test = base.extend({
  page: async ({ page }, use) => {
    const refused = cspRefusals(page)
    await signIn(page)
    await use(page)
    expect(refused, 'refused by the Content-Security-Policy').toEqual([])
  },
})

export { expect }
