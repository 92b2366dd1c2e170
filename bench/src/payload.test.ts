import { describe, expect, it } from 'vitest'
import { eventJson, sentAtOf } from './payload'

describe('eventJson', () => {
  it('is valid JSON of exactly the asked size', () => {
    for (const bytes of [200, 1024]) {
      const s = eventJson(bytes, 123456, 98765.4321)
      expect(Buffer.byteLength(s)).toBe(bytes)
      expect(JSON.parse(s).player).toBe('p-123456')
    }
  })

  it('carries its send time for latency', () => {
    expect(sentAtOf(eventJson(200, 1, 1234.5))).toBe(1234.5)
    expect(sentAtOf(JSON.stringify({ data: JSON.parse(eventJson(200, 1, 42)) }))).toBe(42)
  })
})
