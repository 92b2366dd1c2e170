const encoder = new TextEncoder()

/** 32-bit FNV-1a over the UTF-8 bytes of `key`; stable across runtimes. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5
  for (const byte of encoder.encode(key)) {
    h ^= byte
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The partition an event with this key goes to: the same key always lands on the same partition. */
export function partitionForKey(key: string, partitions: number): number {
  return hashKey(key) % partitions
}
