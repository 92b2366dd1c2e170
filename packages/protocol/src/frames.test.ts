import { describe, expect, it } from 'vitest'
import { catalogueSchemaFor, gameKillSchema } from './catalogue'
import { clientFrameSchema, serverFrameSchema } from './frames'
import { PROTOCOL_VERSION } from './wire'

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

  it('parses request/reply frames and refuses a wildcard request subject', () => {
    const req = clientFrameSchema.parse({
      op: 'request',
      id: 3,
      subject: 'matchmaking.find',
      data: { mmr: 1200 },
      timeoutMs: 500,
    })
    expect(req.op === 'request' && req.subject).toBe('matchmaking.find')
    const wild = clientFrameSchema.safeParse({
      op: 'request',
      id: 4,
      subject: 'matchmaking.*',
      timeoutMs: 500,
    })
    expect(wild.error?.issues[0]?.path).toEqual(['subject'])
    expect(clientFrameSchema.safeParse({ op: 'request', id: 4, subject: 'a.b' }).success).toBe(false)
    expect(clientFrameSchema.parse({ op: 'respond', id: 5, rid: 'r1', subject: 'matchmaking.>' }).op).toBe(
      'respond',
    )
    const bad = clientFrameSchema.safeParse({ op: 'respond', id: 5, rid: 'r1', subject: 'a.>.b' })
    expect(bad.error?.issues[0]?.path).toEqual(['subject'])
    const reply = clientFrameSchema.parse({ op: 'reply', to: 9, error: { code: 'internal', message: 'x' } })
    expect(reply.op === 'reply' && reply.error?.code).toBe('internal')
    expect(serverFrameSchema.parse({ op: 'reply', id: 3, data: [1] }).op).toBe('reply')
    const incoming = serverFrameSchema.parse({
      op: 'request',
      rid: 'r1',
      to: 9,
      subject: 'a.b',
      timeoutMs: 10,
    })
    expect(incoming.op === 'request' && incoming.to).toBe(9)
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
