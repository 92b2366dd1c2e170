/**
 * The wire's constants, in a module without schemas: a client that needs only these (a browser
 * bundle) does not pay for zod's schema builders, which a bundler cannot drop once they run at
 * module load.
 */

export const PROTOCOL_VERSION = 1
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [1]

export const TOPIC_NAME_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/

/** WebSocket close codes the broker uses (4000–4999 is the application range). */
export const WS_CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 4400,
  unauthorized: 4401,
  /** Too many frames: the client flooded past its limit. */
  rateLimited: 4429,
  /** The client read nothing of what was sent to it for `slowConsumerMs`: reconnect and resume. */
  slowConsumer: 4408,
  unsupportedVersion: 4426,
} as const
