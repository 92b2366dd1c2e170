import { describe, expect, it } from 'vitest'
import { newEventId } from './event-id'

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('newEventId', () => {
  it('is a UUIDv7 carrying its millisecond time', () => {
    const now = Date.UTC(2026, 10, 26, 17, 30, 0, 123)
    const id = newEventId(now)
    expect(id).toMatch(V7)
    expect(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBe(now)
    expect(newEventId()).toMatch(V7)
  })

  it('does not repeat within one millisecond', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newEventId(1)))
    expect(ids.size).toBe(10_000)
  })
})
