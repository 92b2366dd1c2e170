import { BrowserClient, type BrowserClientOptions } from './browser-client'

export type {
  BackpressureHint,
  Envelope,
  ErrorCode,
  Receipt,
  SubscribeFrom,
} from '@questlog/protocol'
// the game event catalogue: payload schemas for game.*, system.*, analytics.* and audit.* events,
// usable as defineTopic schemas
export {
  type AnalyticsEvent,
  type AuditEvent,
  AuthError,
  analyticsEventSchema,
  auditEventSchema,
  BackpressureError,
  catalogueSchemaFor,
  ERROR_CODES,
  GAME_EVENT_CATALOGUE,
  type GameDeath,
  type GameEventType,
  type GameJoin,
  type GameKill,
  type GameLeave,
  type GameMatchEnd,
  type GameMatchStart,
  type GameScore,
  gameDeathSchema,
  gameJoinSchema,
  gameKillSchema,
  gameLeaveSchema,
  gameMatchEndSchema,
  gameMatchStartSchema,
  gameScoreSchema,
  isQuestlogError,
  NoRespondersError,
  PayloadTooLargeError,
  QuestlogError,
  type SystemEvent,
  systemEventSchema,
  TimeoutError,
  TopicNotFoundError,
  ValidationError,
} from '@questlog/protocol'
export {
  AbortedError,
  type BatchEntry,
  BRIDGE_HEADER,
  Bridge,
  type BridgeInbound,
  type BridgeOptions,
  type BridgeStats,
  BufferFullError,
  bridge,
  ClientClosedError,
  type ConfirmOptions,
  ConnectionLostError,
  createLocalBus,
  type DefineTopicOptions,
  type DispatchMode,
  defineRequest,
  defineTopic,
  EventDroppedError,
  type EventSubscription,
  LiveTable,
  LocalBus,
  type LocalBusOptions,
  type LocalBusStats,
  LocalEvent,
  type LocalPublishOptions,
  type LocalSubscribeOptions,
  LocalSubscription,
  type OverrunPolicy,
  type PresenceChange,
  PresenceChannel,
  type PresenceMemberOf,
  type PresenceOptions,
  type ProducerStats,
  type PublishOptions,
  type ReceivedEvent,
  type RequestContext,
  type RequestDef,
  type RequestHandler,
  type RequestOptions,
  type Responder,
  type RespondOptions,
  type RouteWhy,
  type RoutingOptions,
  type ScheduledReceipt,
  type ScheduleOptions,
  type Status,
  type SubscribeOptions,
  type TableChange,
  type TableOptions,
  type TopicDef,
} from '@questlog/sdk-core'
export { BrowserClient, type BrowserClientOptions } from './browser-client'

/**
 * A client for browser games and dashboards.
 *
 * ```js
 * const bus = createClient({ brokers: ['http://localhost:4600'] })
 * bus.publish('telemetry', { fps: 60 })
 * for await (const ev of bus.subscribe('match.feed')) render(ev.data)
 * ```
 */
export function createClient(options: BrowserClientOptions): BrowserClient {
  return new BrowserClient(options)
}
