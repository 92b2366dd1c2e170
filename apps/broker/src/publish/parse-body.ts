import {
  BadRequestError,
  MAX_JSON_DEPTH,
  nestsDeeperThan,
  type PublishEvent,
  publishBatchSchema,
  publishEventSchema,
  quickPublishEvents,
  ValidationError,
} from '@questlog/protocol'
import { parse } from '../parse'

export interface ParsedBody {
  events: PublishEvent[]
  /** `{events:[…]}`, answered with receipts; else one event, answered with one receipt. */
  batch: boolean
}

/**
 * The parse step for JSON publish bodies (HTTP, a WebSocket `publish` frame,
 * the console): one event, or `{events:[…]}`, checked against the publish
 * schema. Payloads (`data`) come out no deeper than MAX_JSON_DEPTH: the steps
 * after this one may recurse over them.
 */
export function parsePublishBody(body: unknown): ParsedBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('send a JSON object: one event, or {"events": [...]}')
  }
  const batch = 'events' in body
  // the common shapes pass a hand-written check; anything else gets the schema and its field paths
  const quick = quickPublishEvents(body, batch)
  if (quick) return { events: quick, batch }
  refuseDeepPayloads(body, batch)
  const events = batch ? parse(publishBatchSchema, body).events : [parse(publishEventSchema, body)]
  return { events, batch }
}

/** Before the schema, whose JSON check recurses: a payload nested past the limit is refused by its path. */
function refuseDeepPayloads(body: object, batch: boolean): void {
  const list = batch ? (body as { events?: unknown }).events : [body]
  if (!Array.isArray(list)) return
  const issues = list.flatMap((e, i) =>
    typeof e === 'object' && e !== null && nestsDeeperThan((e as { data?: unknown }).data, MAX_JSON_DEPTH)
      ? [
          {
            path: batch ? `events.${i}.data` : 'data',
            message: `nested deeper than ${MAX_JSON_DEPTH} levels`,
          },
        ]
      : [],
  )
  if (issues.length > 0) throw new ValidationError(issues)
}
