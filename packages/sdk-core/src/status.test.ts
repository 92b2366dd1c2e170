import { describe, expect, it } from 'vitest'
import { type Status, StatusMachine } from './status'

describe('StatusMachine', () => {
  it('reports every transition to each iterator, ending with closed', async () => {
    const m = new StatusMachine()
    const seen: Status['state'][] = []
    const reading = (async () => {
      for await (const s of m.status()) seen.push(s.state)
    })()
    await Promise.resolve()
    m.transition({ state: 'open', reason: 'connected', url: 'ws://x' })
    m.transition({ state: 'reconnecting', reason: 'connection_lost', attempt: 0 })
    m.transition({ state: 'open', reason: 'connected', url: 'ws://x' })
    m.transition({ state: 'closed', reason: 'client_closed' })
    await reading
    expect(seen).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed'])
    expect(await m.closed()).toBeUndefined()
  })

  it('refuses moves out of closed and settles closed() with the fatal error', async () => {
    const m = new StatusMachine()
    const error = new Error('bad token')
    expect(m.transition({ state: 'closed', reason: 'fatal_error', error })).toBe(true)
    expect(m.transition({ state: 'open', reason: 'connected', url: 'ws://x' })).toBe(false)
    expect(m.get().state).toBe('closed')
    expect(await m.closed()).toBe(error)
    await expect(m.whenOpen()).rejects.toBe(error)
  })
})
