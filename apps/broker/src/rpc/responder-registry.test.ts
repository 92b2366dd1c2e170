import { describe, expect, it } from 'vitest'
import { ResponderRegistry, type RpcPeer } from './responder-registry'

const peer = (): RpcPeer => ({ send: () => {} })

describe('ResponderRegistry', () => {
  it('takes matching responders in turn and skips those that do not match', () => {
    const reg = new ResponderRegistry()
    const [a, b, c] = [peer(), peer(), peer()]
    reg.add(a, 'r', 'math.*')
    reg.add(b, 'r', 'math.add')
    reg.add(c, 'r', 'chat.>')
    const picks = Array.from({ length: 6 }, () => reg.pick('math.add')?.peer)
    expect(picks.filter((p) => p === a)).toHaveLength(3)
    expect(picks.filter((p) => p === b)).toHaveLength(3)
    // strictly alternating
    for (let i = 1; i < picks.length; i++) expect(picks[i]).not.toBe(picks[i - 1])
    expect(reg.pick('math.div')?.peer).toBe(a)
    expect(reg.pick('chat.room.42')?.peer).toBe(c)
    expect(reg.pick('nobody.here')).toBeUndefined()
  })

  it('forgets a removed responder and every responder of a peer that went away', () => {
    const reg = new ResponderRegistry()
    const [a, b] = [peer(), peer()]
    const ra = reg.add(a, 'r1', 'x.y')
    reg.add(a, 'r2', 'x.*')
    const rb = reg.add(b, 'r1', 'x.y')
    expect(reg.size).toBe(3)
    expect(reg.pick('x.y', new Set([ra]))?.peer).not.toBe(undefined)
    reg.removePeer(a)
    expect(reg.isLive(ra)).toBe(false)
    expect([reg.pick('x.y'), reg.pick('x.y')].map((r) => r?.peer)).toEqual([b, b])
    reg.remove(b, 'r1')
    expect(reg.isLive(rb)).toBe(false)
    expect(reg.pick('x.y')).toBeUndefined()
    expect(reg.size).toBe(0)
  })
})
