import { test as base, expect, type Page } from '@playwright/test'
import { ADMIN_KEY, stack } from '../stack-env'

/** Signs in to the console through its login page, as an operator would. */
export async function signIn(page: Page, key = ADMIN_KEY): Promise<void> {
  await page.goto(`${stack().consoleUrl}/login`)
  await page.getByLabel('Admin key').fill(key)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByTestId('signed-in-as')).toBeVisible()
}

/** Playwright's `test` whose page is signed in with the admin key before each test. */
export const test = base.extend({
  page: async ({ page }, use) => {
    await signIn(page)
    await use(page)
  },
})

export { expect }
