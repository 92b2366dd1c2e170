import { test as anonymous, expect } from '@playwright/test'
import { stack } from '../stack-env'
import { cspRefusals, test } from './console-session'

/** The header checks every page answer must pass; returns its policy. */
function expectPageHeaders(headers: Headers, what: string): string {
  const csp = headers.get('content-security-policy') ?? ''
  expect(csp, what).toContain("frame-ancestors 'none'")
  expect(csp, what).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'(;|$)/)
  expect(csp, what).toContain("object-src 'none'")
  expect(csp, what).toContain("base-uri 'none'")
  expect(headers.get('x-frame-options'), what).toBe('DENY')
  expect(headers.get('x-content-type-options'), what).toBe('nosniff')
  expect(headers.get('x-powered-by'), what).toBeNull()
  // not no-referrer, under which browsers send `Origin: null` on the console's own form posts
  expect(headers.get('referrer-policy'), what).toBe('same-origin')
  return csp
}

/** A page's answer: its headers pass, and every script in it carries this answer's nonce. */
async function expectPage(url: string, status: number): Promise<{ csp: string; html: string }> {
  const res = await fetch(url)
  expect(res.status, url).toBe(status)
  const csp = expectPageHeaders(res.headers, url)
  const nonce = /'nonce-([^']+)'/.exec(csp)![1]!
  const html = await res.text()
  const scripts = html.match(/<script\b[^>]*>/g) ?? []
  expect(scripts.length, url).toBeGreaterThan(0)
  for (const tag of scripts) expect(tag, url).toContain(`nonce="${nonce}"`)
  return { csp, html }
}

anonymous(
  'pages carry a nonce CSP, no framing, nosniff and no X-Powered-By; so do static files',
  async () => {
    const { consoleUrl } = stack()
    const login = await expectPage(`${consoleUrl}/login`, 200)
    // a nonce is good for one answer only
    expect((await expectPage(`${consoleUrl}/login`, 200)).csp).not.toBe(login.csp)
    await expectPage(`${consoleUrl}/no-such-screen`, 404)

    const script = /<script\b[^>]*src="([^"]+)"/.exec(login.html)![1]!
    for (const path of [script, '/icon.svg']) {
      const res = await fetch(consoleUrl + path)
      expect(res.status, path).toBe(200)
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff')
      expect(res.headers.get('x-frame-options'), path).toBe('DENY')
      expect(res.headers.get('x-powered-by'), path).toBeNull()
    }
  },
)

anonymous('another page cannot frame the console', async ({ page }) => {
  const { consoleUrl } = stack()
  const refused = cspRefusals(page)
  await page.setContent(`<iframe src="${consoleUrl}/login" title="console"></iframe>`)
  await expect.poll(() => refused.some((m) => m.includes('frame-ancestors'))).toBe(true)
  await expect(page.frameLocator('iframe').getByLabel('Admin key')).toHaveCount(0)
})

test('every screen works under the CSP, and a call from Origin: null is refused, not a failure', async ({
  page,
}) => {
  const { consoleUrl } = stack()
  for (const [path, heading] of [
    ['/', 'Overview'],
    ['/topics', 'Topics'],
    ['/brokers', 'Brokers'],
    ['/subscriptions', 'Subscriptions'],
    ['/replay-jobs', 'Replay jobs'],
    ['/dead-letters', 'Dead letters'],
    ['/access', 'Access keys'],
    ['/audit', 'Audit log'],
  ] as const) {
    const res = await page.goto(consoleUrl + path)
    expectPageHeaders(new Headers(res!.headers()), path)
    await expect(page.getByRole('heading', { level: 1 })).toContainText(heading)
    // the page's own script ran: the client-side navigation is live
    await expect(
      page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: heading }),
    ).toHaveClass(/active/)
  }
  // a sandboxed frame or a file: page sends `Origin: null`; with the operator's cookie it is still no site of ours
  const call = await page.request.post(`${consoleUrl}/trpc/topics.create`, {
    headers: { origin: 'null', 'content-type': 'application/json' },
    data: { name: 'e2e.from-null-origin' },
  })
  expect(call.status()).toBe(403)
  const signOut = await page.request.post(`${consoleUrl}/logout`, {
    headers: { origin: 'null' },
    maxRedirects: 0,
  })
  expect(signOut.status()).toBe(403)
  // still signed in
  await page.goto(`${consoleUrl}/audit`)
  await expect(page.getByTestId('signed-in-as')).toBeVisible()
})
