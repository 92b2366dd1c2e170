import { describe, expect, it } from 'vitest'
import { type SessionData, seal, unseal } from './session-seal'

const secret = 'a'.repeat(32)
const data: SessionData = { key: 'ql_abc_secret', keyId: 'abc', name: 'ops', exp: Date.now() + 60_000 }

describe('session cookie', () => {
  it('opens with the secret it was sealed with, and hides the key', () => {
    const sealed = seal(data, secret)
    expect(unseal(sealed, secret)).toEqual(data)
    expect(sealed).not.toContain('ql_abc_secret')
    expect(Buffer.from(sealed, 'base64url').toString('latin1')).not.toContain('ql_abc')
  })

  it('refuses another secret, a changed byte, garbage and an ended session', () => {
    const sealed = seal(data, secret)
    expect(unseal(sealed, 'b'.repeat(32))).toBeNull()
    const raw = Buffer.from(sealed, 'base64url')
    raw[20] = (raw[20] ?? 0) ^ 1
    expect(unseal(raw.toString('base64url'), secret)).toBeNull()
    expect(unseal('not-a-cookie', secret)).toBeNull()
    expect(unseal(undefined, secret)).toBeNull()
    expect(unseal(sealed, secret, data.exp + 1)).toBeNull()
  })
})
