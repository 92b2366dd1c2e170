import { randomBytes } from 'node:crypto'
import { ValidationError } from '@questlog/protocol'

/**
 * A delivery token names one delivery attempt: the subscription, the event's
 * coordinates and, for queue mode, a random attempt id that a redelivery replaces.
 */
export interface DeliveryToken {
  mode: 'queue' | 'stream'
  subscriptionId: number
  topicId: number
  partition: number
  offset: number
  /** Queue mode: the attempt id; stream mode: the member it was delivered to. */
  attempt: string
}

export function newAttempt(): string {
  return randomBytes(9).toString('base64url')
}

export function encodeToken(t: DeliveryToken): string {
  return [t.mode === 'queue' ? 'q' : 's', t.subscriptionId, t.topicId, t.partition, t.offset, t.attempt].join(
    '.',
  )
}

export function decodeToken(text: string, path: string): DeliveryToken {
  const parts = text.split('.')
  const [mode, sub, topic, partition, offset] = parts
  const attempt = parts.slice(5).join('.')
  const nums = [sub, topic, partition, offset].map((n) =>
    n !== undefined && /^\d{1,15}$/.test(n) ? Number(n) : Number.NaN,
  )
  if ((mode !== 'q' && mode !== 's') || nums.some(Number.isNaN) || attempt === '') {
    throw new ValidationError([{ path, message: 'not a delivery token' }])
  }
  return {
    mode: mode === 'q' ? 'queue' : 'stream',
    subscriptionId: nums[0]!,
    topicId: nums[1]!,
    partition: nums[2]!,
    offset: nums[3]!,
    attempt,
  }
}
