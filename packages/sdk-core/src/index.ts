export { type BatchItem, type BatchLimits, batchIsFull, nextBatchSize, splitIntoBatches } from './batcher'
export {
  BRIDGE_HEADER,
  Bridge,
  type BridgeClient,
  type BridgeInbound,
  type BridgeOptions,
  type BridgeStats,
  bridge,
} from './bridge'
export { BoundedBuffer, type OverrunPolicy } from './buffer'
export {
  type BatchEntry,
  type ClientOptions,
  type ConfirmOptions,
  type PublishOptions,
  QuestlogClient,
  type RoutingOptions,
  type ScheduledReceipt,
  type ScheduleOptions,
} from './client'
export { Deadline } from './deadline'
export { createDedupeKeys, createSequence, randomId } from './dedupe'
export {
  AbortedError,
  BufferFullError,
  ClientClosedError,
  ConnectionLostError,
  EventDroppedError,
} from './errors'
export {
  createLocalBus,
  type DispatchMode,
  type LocalBatchEntry,
  LocalBus,
  type LocalBusOptions,
  type LocalBusStats,
  type LocalPublishOptions,
} from './local-bus'
export { LocalEvent } from './local-event'
export { type LocalSubscribeOptions, LocalSubscription } from './local-subscription'
export { Pacer } from './pacer'
export {
  type PresenceChange,
  PresenceChannel,
  type PresenceMemberOf,
  type PresenceOptions,
} from './presence'
export {
  type BatchOrder,
  type BatchResult,
  type EncodedBatch,
  Producer,
  type ProducerOptions,
  type ProducerStats,
  type QueuedEvent,
} from './producer'
export { DEFAULT_REQUEST_TIMEOUT_MS, type RequestOptions } from './requester'
export type {
  RequestContext,
  RequestHandler,
  Responder,
  RespondOptions,
} from './responder'
export {
  type BackoffOptions,
  backoffDelay,
  DEFAULT_BACKOFF,
  DEFAULT_RETRY_BUDGET,
  RetryBudget,
  type RetryBudgetOptions,
} from './retry'
export {
  DEFAULT_ROUTER,
  degradation,
  type Route,
  Router,
  type RouterOptions,
  type RouteWhy,
} from './router'
export { defineRequest, type RequestDef, type RequestRef } from './rpc-def'
export { Session, type SessionOptions, type SessionPresence, type TokenSource } from './session'
export { sleep } from './sleep'
export { type Status, StatusMachine, type StatusReason } from './status'
export {
  type EventSubscription,
  type ReceivedEvent,
  type SubscribeOptions,
  Subscription,
} from './subscription'
export { LiveTable, type TableChange, type TableOptions, type TableSource } from './table'
export {
  checkPayload,
  type DefineTopicOptions,
  defineTopic,
  type TopicDef,
  type TopicRef,
  topicName,
} from './topic'
export {
  type Transport,
  type TransportConnection,
  type WebSocketConstructor,
  type WebSocketLike,
  webSocketTransport,
  webSocketUrl,
} from './transport'
