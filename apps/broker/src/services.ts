import type { Logger } from 'pino'
import type { AuditLog } from './auth/audit-log'
import type { KeyStore } from './auth/key-store'
import type { Quotas } from './auth/quotas'
import type { RateLimiter } from './auth/rate-limiter'
import type { Cluster } from './cluster/cluster'
import type { PeerLinks } from './cluster/peers'
import type { BrokerConfig } from './config'
import type { PayloadCrypto } from './crypto/payload-crypto'
import type { DeliveryService } from './delivery/delivery-service'
import type { ReplayJobs } from './delivery/replay-jobs'
import type { Webhooks } from './delivery/webhooks'
import type { Fanout } from './fanout/fanout'
import type { HealthMonitor } from './observability/health'
import type { Metrics } from './observability/metrics'
import type { StatsSampler } from './observability/timeseries'
import type { Presence } from './presence/presence'
import type { PublishPipeline } from './publish/pipeline'
import type { Publisher } from './publish/publisher'
import type { Compactor } from './retention/compaction'
import type { RetentionWorker } from './retention/retention'
import type { Scheduler } from './schedule/scheduler'
import type { SchemaRegistry } from './schemas/schema-registry'
import type { Db, Sql } from './storage/db'
import type { SegmentRegistry } from './storage/segments'
import type { TopicService } from './topics/topic-service'

/** Everything a request handler may use; built once per broker in broker.ts. */
export interface Services {
  brokerId: string
  /** This broker as a member of the cluster: registry, heartbeats. */
  cluster: Cluster
  /** Links to the other brokers, for request/reply across them. */
  peers: PeerLinks
  /** Who is on each presence channel, on every broker. */
  presence: Presence
  config: BrokerConfig
  log: Logger
  sql: Sql
  db: Db
  segments: SegmentRegistry
  topics: TopicService
  publisher: Publisher
  /** Every publish goes through it, whatever its door. */
  pipeline: PublishPipeline
  fanout: Fanout
  metrics: Metrics
  health: HealthMonitor
  stats: StatsSampler
  retention: RetentionWorker
  /** Compaction of compacted topics (on the broker holding its lease). */
  compactor: Compactor
  delivery: DeliveryService
  replays: ReplayJobs
  scheduler: Scheduler
  webhooks: Webhooks
  schemas: SchemaRegistry
  crypto: PayloadCrypto
  keys: KeyStore
  audit: AuditLog
  rateLimits: RateLimiter
  quotas: Quotas
}
