import { ERROR_CODES, type ErrorCode } from '@questlog/protocol'
import { z } from 'zod'

/**
 * Frames between two brokers on a peer link (`GET /v1/cluster`, WebSocket, JSON text). Internal
 * to one release of the broker; every frame is checked here all the same, as any bytes are.
 */
const corr = z.number().int().nonnegative()
const key = z.string().min(1).max(200)
const pattern = z.string().min(1).max(1000)
const headers = z.record(z.string(), z.string())
const errorCode = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]])
const nonce = z.string().regex(/^[A-Za-z0-9_-]{43}$/)
const proof = z.string().regex(/^[A-Za-z0-9_-]{43}$/)

/** One presence member set (`present`) or removed on the sender's broker (see presence/presence.ts). */
const presenceChange = z.strictObject({
  channel: z.string().min(1).max(1000),
  connection: z.string().min(1).max(100),
  id: z.string().min(1).max(128),
  present: z.boolean(),
  info: z.json().optional(),
})

/** The handshake: challenge (acceptor), auth (dialer), ready (acceptor). */
export const challengeFrame = z.strictObject({ op: z.literal('challenge'), id: z.string().max(100), nonce })
export const authFrame = z.strictObject({ op: z.literal('auth'), id: z.string().max(100), nonce, proof })
export const readyFrame = z.strictObject({ op: z.literal('ready'), proof })

export const peerFrameSchema = z.discriminatedUnion('op', [
  /** Every responder of the sender's, sent once the link is up. */
  z.strictObject({ op: z.literal('responders'), list: z.array(z.tuple([key, pattern])).max(1_000_000) }),
  z.strictObject({ op: z.literal('respond'), key, pattern }),
  z.strictObject({ op: z.literal('unrespond'), key }),
  /** A request for the receiver's responder `key`; `corr` is the sender's correlation id. */
  z.strictObject({
    op: z.literal('request'),
    corr,
    key,
    subject: z.string().min(1).max(1000),
    data: z.json().optional(),
    headers: headers.optional(),
    timeoutMs: z.number().int().min(0).max(300_000),
  }),
  z.strictObject({ op: z.literal('reply'), corr, data: z.json().optional(), headers: headers.optional() }),
  z.strictObject({
    op: z.literal('error'),
    corr,
    code: errorCode,
    message: z.string().max(2000),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
  /** Presence members of the sender's own connections: all of them once the link is up, then each change. */
  z.strictObject({ op: z.literal('presence'), changes: z.array(presenceChange).max(100_000) }),
  /** The responder the request went to is gone: the sender of the request picks another. */
  z.strictObject({ op: z.literal('gone'), corr }),
])

export type PeerFrame = z.infer<typeof peerFrameSchema>
