import { describe, expect, it } from 'vitest'
import { checkKey, EMPTY_KEY, formField } from './key-values'

const NOW = Date.parse('2026-01-01T00:00:00Z')

describe('the new-key form', () => {
  it('turns typed values into the broker input: topics split on commas, numbers parsed, expiry in UTC', () => {
    const checked = checkKey(
      {
        name: ' match-server ',
        rules: [
          { effect: 'allow', actions: ['publish', 'subscribe'], topics: 'game.*, chat.>' },
          { effect: 'deny', actions: ['publish'], topics: 'game.admin' },
        ],
        expiresAt: '2026-02-01T10:00',
        rateEventsPerSec: '500',
        rateBytesPerSec: '',
      },
      NOW,
    )
    expect(checked.ok).toBe(true)
    if (!checked.ok) return
    expect(checked.input).toMatchObject({
      name: 'match-server',
      rules: [
        { effect: 'allow', actions: ['publish', 'subscribe'], topics: ['game.*', 'chat.>'] },
        { effect: 'deny', actions: ['publish'], topics: ['game.admin'] },
      ],
      rateEventsPerSec: 500,
      rateBytesPerSec: undefined,
    })
    expect(checked.input.expiresAt).toBe(new Date('2026-02-01T10:00').toISOString())
  })

  it('names each wrong field', () => {
    const checked = checkKey(
      {
        ...EMPTY_KEY,
        rules: [{ effect: 'allow', actions: [], topics: 'game..x' }],
        expiresAt: '2025-12-31T10:00',
        rateEventsPerSec: '1.5',
        rateBytesPerSec: 'lots',
      },
      NOW,
    )
    expect(checked.ok).toBe(false)
    if (checked.ok) return
    expect(Object.keys(checked.errors).sort()).toEqual([
      'expiresAt',
      'name',
      'rateBytesPerSec',
      'rateEventsPerSec',
      'rules.0.actions',
      'rules.0.topics',
    ])
    expect(checked.errors['rules.0.topics']).toMatch(/^game\.\.x: /)
    expect(checkKey({ ...EMPTY_KEY, name: 'x', rules: [] }, NOW)).toMatchObject({
      ok: false,
      errors: { rules: expect.any(String) },
    })
  })

  it('places broker issues beside their field', () => {
    expect(formField('rules.1.topics.0')).toBe('rules.1.topics')
    expect(formField('rules.0.effect')).toBe('rules.0.actions')
    expect(formField('expiresAt')).toBe('expiresAt')
  })
})
