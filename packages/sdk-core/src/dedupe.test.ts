import { describe, expect, it } from 'vitest'
import { createDedupeKeys, createSequence, randomId } from './dedupe'
import { webSocketUrl } from './transport'

describe('dedupe keys', () => {
  it('are unique per event and share one random prefix per client', () => {
    const a = createDedupeKeys()
    const b = createDedupeKeys()
    const keys = Array.from({ length: 10_000 }, () => a())
    expect(new Set(keys).size).toBe(10_000)
    const prefix = keys[0]!.split('-')[0]
    expect(keys.every((k) => k.startsWith(`${prefix}-`))).toBe(true)
    expect(b().split('-')[0]).not.toBe(prefix)
    expect(randomId(20)).toMatch(/^[0-9a-z]{20}$/)
  })
})

describe('webSocketUrl', () => {
  it('turns a broker base URL into its WebSocket endpoint', () => {
    expect(webSocketUrl('http://localhost:4600')).toBe('ws://localhost:4600/v1/ws')
    expect(webSocketUrl('https://bus.example.com')).toBe('wss://bus.example.com/v1/ws')
    expect(webSocketUrl('ws://10.0.0.1:4600/custom')).toBe('ws://10.0.0.1:4600/custom')
  })
})

describe('producer sequences', () => {
  it('number events from 0 under one random producer id per client', () => {
    const a = createSequence()
    const b = createSequence()
    expect([a.next(), a.next(), a.next()]).toEqual([0, 1, 2])
    expect(a.producer).toMatch(/^[0-9a-z]{16}$/)
    expect(b.producer).not.toBe(a.producer)
  })
})
