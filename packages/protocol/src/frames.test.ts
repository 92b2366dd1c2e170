import { describe, expect, it } from 'vitest'
import { catalogueSchemaFor, gameKillSchema } from './catalogue'
import { clientFrameSchema, PROTOCOL_VERSION, serverFrameSchema } from './frames'

describe('frames', () => {
  it('parses a hello, a publish and a subscribe', () => {
    expect(clientFrameSchema.parse({ op: 'hello', v: PROTOCOL_VERSION }).op).toBe('hello')
    const pub = clientFrameSchema.parse({ op: 'publish', id: 1, topic: 'game.events', events: [{ data: 1 }] })
    expect(pub.op).toBe('publish')
    const sub = clientFrameSchema.parse({
      op: 'subscribe',
      sid: 's1',
      topic: 'game.events',
      group: 'analytics',
      from: { time: '1h' },
      type: 'game.*',
    })
    expect(sub.op === 'subscribe' && sub.from).toEqual({ time: '1h' })
  })

  it('names the field of a bad frame', () => {
    const r = clientFrameSchema.safeParse({ op: 'subscribe', sid: 's1', topic: 'x', type: 'game..kill' })
    expect(r.success).toBe(false)
    expect(r.error?.issues[0]?.path).toEqual(['type'])
    expect(clientFrameSchema.safeParse({ op: 'nope' }).success).toBe(false)
  })

  it('accepts only known error codes from the broker', () => {
    expect(
      serverFrameSchema.safeParse({ op: 'error', code: 'backpressure', message: 'slow down' }).success,
    ).toBe(true)
    expect(serverFrameSchema.safeParse({ op: 'error', code: 'teapot', message: 'x' }).success).toBe(false)
  })
})

describe('catalogue', () => {
  it('finds exact and family schemas', () => {
    expect(catalogueSchemaFor('game.kill')).toBe(gameKillSchema)
    expect(catalogueSchemaFor('audit.login')).toBeDefined()
    expect(catalogueSchemaFor('chat.message')).toBeUndefined()
    const bad = gameKillSchema.safeParse({ match: 'm', killer: 'a' })
    expect(bad.error?.issues[0]?.path).toEqual(['victim'])
  })
})
