import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'

type Family = 'ipv4' | 'ipv6'
type Range = [address: string, prefix: number]

/** Where a request from the broker must not go unless an operator admits it, by what the error calls it. */
const INWARD_V4: Record<string, Range[]> = {
  loopback: [['127.0.0.0', 8]],
  unspecified: [['0.0.0.0', 8]],
  private: [
    ['10.0.0.0', 8],
    ['172.16.0.0', 12],
    ['192.168.0.0', 16],
  ],
  'shared (CGNAT)': [['100.64.0.0', 10]],
  'link-local': [['169.254.0.0', 16]],
  reserved: [
    ['192.0.0.0', 24],
    ['198.18.0.0', 15],
    ['240.0.0.0', 4],
  ],
  multicast: [['224.0.0.0', 4]],
}

const INWARD_V6: Record<string, Range[]> = {
  loopback: [['::1', 128]],
  unspecified: [['::', 128]],
  'unique-local': [['fc00::', 7]],
  'link-local': [['fe80::', 10]],
  // IPv4-compatible (deprecated), discard-only, local-use NAT64, site-local (deprecated)
  reserved: [
    ['::', 96],
    ['100::', 64],
    ['64:ff9b:1::', 48],
    ['fec0::', 10],
  ],
  multicast: [['ff00::', 8]],
}

const hex16 = (a: number, b: number) => ((a << 8) | b).toString(16)

/**
 * The IPv6 forms that carry an IPv4 address a gateway on this side would reach:
 * NAT64's well-known prefix (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16). (IPv4-mapped
 * ::ffff:a.b.c.d needs nothing: BlockList matches those against the IPv4 rules.)
 */
function embeddedV4(address: string, prefix: number): Range[] {
  const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number)
  return [
    [`64:ff9b::${hex16(a, b)}:${hex16(c, d)}`, 96 + prefix],
    [`2002:${hex16(a, b)}:${hex16(c, d)}::`, 16 + prefix],
  ]
}

const INWARD: Array<{ name: string; list: BlockList }> = Object.keys({ ...INWARD_V4, ...INWARD_V6 }).map(
  (name) => {
    const list = new BlockList()
    for (const [address, prefix] of INWARD_V4[name] ?? []) {
      list.addSubnet(address, prefix, 'ipv4')
      for (const [v6, p] of embeddedV4(address, prefix)) list.addSubnet(v6, p, 'ipv6')
    }
    for (const [address, prefix] of INWARD_V6[name] ?? []) list.addSubnet(address, prefix, 'ipv6')
    return { name, list }
  },
)

const familyOf = (address: string): Family | null => {
  const v = isIP(address)
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : null
}
const unbracket = (host: string) => (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host)
const normalHost = (host: string) => unbracket(host).toLowerCase().replace(/\.$/, '')
const HOST_NAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i

/** What is wrong with one allow-list entry (a CIDR, an address or a host name), or null. */
export function allowEntryError(entry: string): string | null {
  const slash = entry.indexOf('/')
  if (slash >= 0) {
    const address = unbracket(entry.slice(0, slash))
    const family = familyOf(address)
    const prefix = Number(entry.slice(slash + 1))
    const max = family === 'ipv4' ? 32 : 128
    if (!family || !/^\d{1,3}$/.test(entry.slice(slash + 1)) || prefix > max)
      return `'${entry}' is not a CIDR such as 10.1.0.0/16 or fd00::/8`
    return null
  }
  if (familyOf(unbracket(entry))) return null
  if (!HOST_NAME.test(entry) || entry.length > 253)
    return `'${entry}' is neither a CIDR, an address nor a host name`
  return null
}

/** Thrown (through a socket's lookup) when a target resolves to an address it may not reach. */
export class OutboundRefused extends Error {
  override readonly name = 'OutboundRefused'
  readonly code = 'EOUTBOUNDREFUSED'
}

/**
 * Keeps requests the broker makes for its users (webhooks) from reaching inward: loopback,
 * private, link-local, unique-local, CGNAT, multicast and reserved addresses, also in
 * IPv4-mapped and NAT64 forms, are refused unless the operator's allow-list admits them.
 * `lookup` is what sockets connect through, so the address checked is the address connected
 * to: a name that resolves elsewhere a second later (DNS rebinding) changes nothing.
 */
export class OutboundGuard {
  private readonly allowed = new BlockList()
  private readonly hosts = new Set<string>()

  constructor(allow: readonly string[]) {
    for (const entry of allow) {
      const problem = allowEntryError(entry)
      if (problem) throw new Error(problem)
      const slash = entry.indexOf('/')
      if (slash >= 0) {
        const address = unbracket(entry.slice(0, slash))
        this.allowed.addSubnet(address, Number(entry.slice(slash + 1)), familyOf(address)!)
      } else if (familyOf(unbracket(entry))) {
        this.allowed.addAddress(unbracket(entry), familyOf(unbracket(entry))!)
      } else {
        this.hosts.add(normalHost(entry))
      }
    }
  }

  /** Admitted by name: whatever the name resolves to is the operator's business. */
  admitsHost(host: string): boolean {
    return this.hosts.has(normalHost(host))
  }

  /** Why `host` (resolved to `address`) may not be reached, or null when it may. */
  refusal(host: string, address: string): string | null {
    const family = familyOf(address)
    if (!family) return `refused: '${address}' is not an IP address`
    if (this.admitsHost(host) || this.allowed.check(address, family)) return null
    const range = INWARD.find((r) => r.list.check(address, family))
    if (!range) return null
    const what = `${/^[aeiou]/.test(range.name) ? 'an' : 'a'} ${range.name} address`
    const subject =
      normalHost(host) === address.toLowerCase()
        ? `${address} is`
        : `${unbracket(host)} resolves to ${address},`
    return `refused: ${subject} ${what} (an operator admits inward targets with QUESTLOG_WEBHOOK_ALLOW)`
  }

  /** Resolves a URL's host as a connection would and says why it is refused, or null. */
  async check(url: string): Promise<string | null> {
    const host = unbracket(new URL(url).hostname)
    if (familyOf(host)) return this.refusal(host, host)
    if (this.admitsHost(host)) return null
    let addresses: LookupAddress[]
    try {
      addresses = await new Promise((resolve, reject) =>
        dnsLookup(host, { all: true }, (err, found) => (err ? reject(err) : resolve(found))),
      )
    } catch (e) {
      return `cannot resolve ${host}: ${(e as { code?: string }).code ?? (e as Error).message}`
    }
    for (const a of addresses) {
      const why = this.refusal(host, a.address)
      if (why) return why
    }
    return null
  }

  /** A socket's lookup: every address the name resolves to must pass, and only those reach the socket. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0)
      for (const a of addresses) {
        const why = this.refusal(hostname, a.address)
        if (why) return callback(new OutboundRefused(why), '', 0)
      }
      if (options.all) return callback(null, addresses)
      const first = addresses[0]
      if (!first)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0)
      callback(null, first.address, first.family)
    })
  }
}
