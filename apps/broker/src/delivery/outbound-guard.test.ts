import { describe, expect, it } from 'vitest'
import { allowEntryError, OutboundGuard } from './outbound-guard'

const closed = new OutboundGuard([])

describe('OutboundGuard', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.20.30.40', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['::ffff:192.168.0.1', 'private'],
    ['100.100.0.1', 'shared (CGNAT)'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['2002:c0a8:101::1', 'private'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
  ])('refuses %s (%s)', (address, kind) => {
    expect(closed.refusal(address, address)).toContain(`${kind} address`)
  })

  it.each([
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '192.169.0.1',
    '::ffff:8.8.8.8',
    '2606:4700::1111',
    '64:ff9b::808:808',
  ])('lets %s through', (address) => {
    expect(closed.refusal(address, address)).toBe(null)
  })

  it('admits what the allow-list names: a CIDR, an address (also IPv4-mapped) or a host name', () => {
    const open = new OutboundGuard(['10.1.0.0/16', '127.0.0.1', '[::1]', 'Hooks.Internal'])
    expect(open.refusal('10.1.2.3', '10.1.2.3')).toBe(null)
    expect(open.refusal('10.2.0.1', '10.2.0.1')).toContain('private')
    expect(open.refusal('127.0.0.1', '127.0.0.1')).toBe(null)
    expect(open.refusal('::ffff:127.0.0.1', '::ffff:127.0.0.1')).toBe(null)
    expect(open.refusal('127.0.0.2', '127.0.0.2')).toContain('loopback')
    expect(open.refusal('::1', '::1')).toBe(null)
    expect(open.refusal('hooks.internal.', '192.168.7.7')).toBe(null)
    expect(open.refusal('other.internal', '192.168.7.7')).toContain(
      'other.internal resolves to 192.168.7.7, a private address',
    )
  })

  it('refuses a malformed allow-list entry', () => {
    expect(allowEntryError('10.0.0.0/33')).toMatch(/not a CIDR/)
    expect(allowEntryError('10.0.0.0/')).toMatch(/not a CIDR/)
    expect(allowEntryError('fd00::/129')).toMatch(/not a CIDR/)
    expect(allowEntryError('http://x')).toMatch(/not a CIDR/)
    expect(allowEntryError('two words')).toMatch(/neither/)
    expect(allowEntryError('fd00::/8')).toBe(null)
    expect(() => new OutboundGuard(['bad entry'])).toThrow(/neither/)
  })

  it('is the lookup sockets connect through: a name that resolves inward never reaches a socket', async () => {
    for (const all of [true, false]) {
      const err = await new Promise<Error | null>((resolve) =>
        closed.lookup('localhost', { all }, (e) => resolve(e)),
      )
      expect(err?.message).toContain('localhost resolves to 127.0.0.1, a loopback address')
    }
    const admitted = new OutboundGuard(['localhost'])
    const found = await new Promise<unknown>((resolve) =>
      admitted.lookup('localhost', { all: false }, (e, address) => resolve(e ?? address)),
    )
    expect(found).toBe('127.0.0.1')
  })
})
