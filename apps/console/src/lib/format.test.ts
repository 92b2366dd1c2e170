import { describe, expect, it } from 'vitest'
import { formatAxis, formatClock, formatTime } from './format'

describe('formatTime', () => {
  it('shows UTC with its date, milliseconds and label', () => {
    expect(formatTime('2026-12-06T03:04:05.006Z', 'utc')).toBe('2026-12-06 03:04:05.006 UTC')
  })

  it('labels a local time with its zone and keeps the date', () => {
    const shown = formatTime('2026-12-06T03:04:05.006Z')
    expect(shown).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.006 \S+/)
  })

  it('gives back what it cannot read rather than "Invalid Date"', () => {
    expect(formatTime('soon', 'utc')).toBe('soon')
  })
})

describe('formatClock', () => {
  it('reads the UTC clock when asked', () => {
    expect(formatClock(Date.parse('2026-12-06T23:59:58Z'), 'utc')).toBe('23:59:58')
  })
})

describe('formatAxis', () => {
  it('keeps large ticks short enough for the axis, whole', () => {
    expect(formatAxis(950)).toBe('950')
    expect(formatAxis(1200)).toBe('1.2K')
    expect(formatAxis(120_000)).toBe('120K')
    expect(formatAxis(3_400_000)).toBe('3.4M')
    expect(formatAxis(0.5)).toBe('0.5')
  })
})
