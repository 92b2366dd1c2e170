import { randomBytes } from 'node:crypto'
import { test as anonymous, expect } from '@playwright/test'
import { brokerApi, stack } from '../stack-env'
import { saveScreenshot } from './console-screenshots'
import { signIn } from './console-session'

const ALL = { effect: 'allow', actions: ['publish', 'subscribe', 'admin'], topics: ['>'] }

async function createKey(rules: unknown[]): Promise<{ key: string; id: string }> {
  const res = await brokerApi<{ key: string; id: string }>('POST', '/v1/keys', {
    name: `e2e-login-${randomBytes(3).toString('hex')}`,
    rules,
  })
  expect(res.status).toBe(201)
  return res.body
}

anonymous(
  'without a session every screen leads to the login page, and wrong keys stay out',
  async ({ page, context }, info) => {
    const { consoleUrl } = stack()
    for (const path of ['/', '/topics', '/access', '/audit']) {
      await page.goto(consoleUrl + path)
      await expect(page).toHaveURL(`${consoleUrl}/login`)
      await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in to the console')
    }
    // the admin API behind the console answers nothing either
    const direct = await page.request.get(`${consoleUrl}/trpc/keys.list`)
    expect(direct.status()).toBe(401)
    expect(await direct.text()).not.toContain('e2eadmin0001')

    const key = page.getByLabel('Admin key')
    const error = page.getByTestId('login-error')
    await key.fill(`ql_nosuchkey012_${'B'.repeat(43)}`)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect(error).toHaveText('The broker does not accept this key (unknown API key).')

    await key.fill('letmein')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect(error).toContainText('malformed credential')

    // a real key that may publish but not administer
    const publisher = await createKey([{ effect: 'allow', actions: ['publish'], topics: ['>'] }])
    await key.fill(publisher.key)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect(error).toContainText('is not an administrator')
    await saveScreenshot(page, info, 'login', 'console-login.png')

    expect((await context.cookies()).map((c) => c.name)).not.toContain('questlog_session')
    await page.goto(`${consoleUrl}/topics`)
    await expect(page).toHaveURL(`${consoleUrl}/login`)
  },
)

anonymous('a session ends when its key is revoked, and on sign-out', async ({ page, context }) => {
  const { consoleUrl } = stack()
  const admin = await createKey([ALL])
  await signIn(page, admin.key)
  await expect(page.getByTestId('signed-in-as')).toContainText(admin.id)
  const cookie = (await context.cookies()).find((c) => c.name === 'questlog_session')
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' })
  // the key itself never reaches the browser
  expect(cookie?.value).not.toContain(admin.key.slice('ql_'.length + 13))
  expect(await page.evaluate<string>('document.cookie')).not.toContain('questlog_session')

  await page.goto(`${consoleUrl}/topics`)
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Topics')
  expect((await brokerApi('DELETE', `/v1/keys/${admin.id}`)).status).toBe(204)
  // the list refreshes on its own; the broker's answer sends the operator back to sign in
  await expect(page).toHaveURL(`${consoleUrl}/login?reason=expired`, { timeout: 20_000 })
  await expect(page.getByTestId('login-reason')).toHaveText(
    'Your key was revoked or has expired; sign in again.',
  )
  await page.goto(`${consoleUrl}/topics`)
  await expect(page).toHaveURL(`${consoleUrl}/login`)

  await signIn(page)
  await page.getByRole('button', { name: 'Sign out' }).click()
  await expect(page).toHaveURL(`${consoleUrl}/login?reason=signed-out`)
  await expect(page.getByTestId('login-reason')).toHaveText('You are signed out.')
  await page.goto(`${consoleUrl}/access`)
  await expect(page).toHaveURL(`${consoleUrl}/login`)
})
