import { describe, expect, it } from 'vitest'
import { fromAnotherSite } from './same-site'

const req = (headers: Record<string, string>) =>
  new Request('http://console.example/trpc/x', { method: 'POST', headers })

describe('fromAnotherSite', () => {
  it('judges by Origin against Host, and takes a missing Origin as no verdict', () => {
    expect(fromAnotherSite(req({ host: 'console.example', origin: 'http://console.example' }))).toBe(false)
    expect(fromAnotherSite(req({ host: 'console.example' }))).toBe(false)
    expect(fromAnotherSite(req({ host: 'console.example', origin: 'https://evil.example' }))).toBe(true)
    expect(
      fromAnotherSite(req({ host: 'console.example', origin: 'http://console.example.evil.example' })),
    ).toBe(true)
  })

  it('refuses Origin: null and an origin that is no URL instead of throwing', () => {
    for (const origin of ['null', 'not a url', '']) {
      expect(fromAnotherSite(req({ host: 'console.example', origin })), origin).toBe(true)
    }
  })
})
