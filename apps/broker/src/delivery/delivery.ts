import type { StoredEvent } from '../storage/event-store'

/** One event handed to a consumer, with the token its ack or nak must name. */
export interface Delivery {
  token: string
  topic: string
  /** How many times this event has been delivered to the subscription, this time included. */
  deliveries: number
  event: StoredEvent
}
