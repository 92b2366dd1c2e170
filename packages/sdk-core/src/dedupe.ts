const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz'

/** A random id of `length` base-36 characters from the platform's CSPRNG. */
export function randomId(length = 12): string {
  const bytes = new Uint8Array(length)
  globalThis.crypto.getRandomValues(bytes)
  let out = ''
  for (const b of bytes) out += ALPHABET[b % 36]
  return out
}

/**
 * Makes dedupe keys: one random prefix per client and a counter, so every event
 * gets a unique key at enqueue time and keeps it through every retry.
 */
export function createDedupeKeys(prefix: string = randomId()): () => string {
  let seq = 0
  return () => `${prefix}-${(seq++).toString(36)}`
}

/**
 * An idempotent producer's numbering: a random id per client and a counter.
 * Every event gets the next number when it is queued and keeps it through every
 * retry; since a client sends one batch at a time, in queue order, the numbers
 * a partition receives from it only grow, and the broker stores each one once.
 */
export function createSequence(producer: string = randomId(16)): { producer: string; next(): number } {
  let seq = 0
  return { producer, next: () => seq++ }
}
