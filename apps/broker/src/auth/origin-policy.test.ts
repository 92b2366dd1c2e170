import { describe, expect, it } from 'vitest'
import { brokerConfigSchema } from '../config'
import { originAllowed } from './origin-policy'

describe('originAllowed', () => {
  it('lets in exactly the listed origins: no prefix, suffix, scheme or port look-alike', () => {
    const list = ['https://game.example']
    expect(originAllowed('https://game.example', list)).toBe(true)
    for (const other of [
      'https://game.example.evil.example',
      'https://evil.example/https://game.example',
      'http://game.example',
      'https://game.example:8443',
      'https://sub.game.example',
      'null',
      '',
    ]) {
      expect(originAllowed(other, list), other).toBe(false)
    }
    expect(originAllowed('https://game.example', [])).toBe(false)
  })

  it('`*` lets in any origin but null, which only `null` itself lets in', () => {
    expect(originAllowed('https://anything.example', ['*'])).toBe(true)
    expect(originAllowed('null', ['*'])).toBe(false)
    expect(originAllowed('null', ['null'])).toBe(true)
  })

  it('is configured with origins as browsers send them', () => {
    const parse = (allowedOrigins: string) => brokerConfigSchema.safeParse({ allowedOrigins })
    expect(parse('https://game.example, http://127.0.0.1:5173,null,*').data?.allowedOrigins).toEqual([
      'https://game.example',
      'http://127.0.0.1:5173',
      'null',
      '*',
    ])
    for (const bad of [
      'https://game.example/',
      'game.example',
      'https://game.example/play',
      'https://Game.example',
    ]) {
      expect(parse(bad).success, bad).toBe(false)
    }
  })
})
