const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
/** Random bytes drawn from the CSPRNG in bulk (Web Crypto: Node and browsers); ten go into each id. */
const pool = new Uint8Array(10 * 1024)
let used = pool.length
let lastMs = -1
let prefix = ''

/**
 * A UUIDv7 (RFC 9562): unix milliseconds in the first 48 bits, version 7, then
 * 74 random bits with the RFC variant. Every event is named so (by the SDK that
 * publishes it, or by the broker), so the random bits come from a pooled buffer
 * and the hex from a table: a fraction of the cost of building each id's bytes
 * on its own.
 */
export function newEventId(nowMs = Date.now()): string {
  if (nowMs !== lastMs) {
    lastMs = nowMs
    const hex = nowMs.toString(16).padStart(12, '0')
    prefix = `${hex.slice(0, 8)}-${hex.slice(8)}-7`
  }
  if (used + 10 > pool.length) {
    globalThis.crypto.getRandomValues(pool)
    used = 0
  }
  const b = pool
  const o = used
  used += 10
  return `${prefix}${HEX[b[o]!]!.charAt(1)}${HEX[b[o + 1]!]}-${HEX[(b[o + 2]! & 0x3f) | 0x80]}${HEX[b[o + 3]!]}-${HEX[b[o + 4]!]}${HEX[b[o + 5]!]}${HEX[b[o + 6]!]}${HEX[b[o + 7]!]}${HEX[b[o + 8]!]}${HEX[b[o + 9]!]}`
}
