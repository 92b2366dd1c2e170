import {
  type ClientOptions,
  QuestlogClient,
  type Transport,
  type WebSocketConstructor,
  webSocketTransport,
} from '@questlog/sdk-core'
import WebSocket from 'ws'

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
  QuestlogClient,
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
  Subscription,
  type TableChange,
  type TableOptions,
  type TopicDef,
} from '@questlog/sdk-core'

export {
  type DrizzleTransaction,
  type OutboxPublishOptions,
  type OutboxReceipt,
  type OutboxTransaction,
  type PgTransaction,
  type PostgresJsTransaction,
  publishInTransaction,
} from './outbox'

export interface NodeClientOptions extends Omit<ClientOptions, 'transport'> {
  /** Replaces the default transport (WebSocket through the `ws` package). */
  transport?: Transport
}

/** The WebSocket transport for Node, over the `ws` package. */
export const nodeTransport: Transport = webSocketTransport(WebSocket as unknown as WebSocketConstructor)

/**
 * A client for Node game servers and services.
 *
 * ```ts
 * const bus = createClient({ brokers: ['http://localhost:4600'] })
 * await bus.publish('game.events', { kind: 'jump' }, { key: 'player-1' })
 * ```
 */
export function createClient(options: NodeClientOptions): QuestlogClient {
  return new QuestlogClient({ ...options, transport: options.transport ?? nodeTransport })
}
