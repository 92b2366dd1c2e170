import { randomUUID } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import pino, { type Logger } from 'pino'
import { AuditLog } from './auth/audit-log'
import { KeyStore, type TokenSecretSource } from './auth/key-store'
import { redactingLogger } from './auth/log-redaction'
import { ADMIN_RULES } from './auth/principal'
import { QuotaSlots } from './auth/quota-slots'
import { Quotas } from './auth/quotas'
import { RateLimiter } from './auth/rate-limiter'
import { Cluster } from './cluster/cluster'
import { PeerLinks } from './cluster/peers'
import { type BrokerConfig, type BrokerConfigInput, brokerConfigSchema, clusterTimingError } from './config'
import { PayloadCrypto } from './crypto/payload-crypto'
import { DeliveryService } from './delivery/delivery-service'
import { OutboundGuard } from './delivery/outbound-guard'
import { ReplayJobs } from './delivery/replay-jobs'
import { SubscriptionStats } from './delivery/stats-collector'
import { Webhooks } from './delivery/webhooks'
import { EVENTS_CHANNEL, Fanout } from './fanout/fanout'
import { createHttpServer } from './http/server'
import { HealthMonitor } from './observability/health'
import { createMetrics } from './observability/metrics'
import { StatsSampler } from './observability/timeseries'
import { OutboxRelay } from './outbox/outbox-relay'
import { Presence } from './presence/presence'
import { WriteLanes } from './publish/lanes'
import { PublishPipeline } from './publish/pipeline'
import { Publisher } from './publish/publisher'
import { Compactor } from './retention/compaction'
import { RetentionWorker } from './retention/retention'
import { rpcRouterOf } from './rpc/rpc-router'
import { Scheduler } from './schedule/scheduler'
import { SchemaRegistry } from './schemas/schema-registry'
import type { Services } from './services'
import { createDrizzle, createSql } from './storage/db'
import { type EmbeddedDatabase, startEmbeddedPostgres } from './storage/embedded'
import { registerPayloadDecoder } from './storage/event-store'
import { migrate } from './storage/migrate'
import { SegmentRegistry } from './storage/segments'
import { WriteLane } from './storage/write-lane'
import { TopicService } from './topics/topic-service'
import { webSocketConnections } from './ws/ws-route'

export const VERSION = '0.1.0'

export interface Broker {
  /** Base URL, e.g. http://127.0.0.1:4600 */
  url: string
  port: number
  services: Services
  stop(): Promise<void>
}

export interface BrokerOptions {
  logger?: Logger
}

/** Starts a broker: database (embedded if no URL), migrations, HTTP server, background work. */
export async function createBroker(
  input: BrokerConfigInput = {},
  options: BrokerOptions = {},
): Promise<Broker> {
  const config: BrokerConfig = brokerConfigSchema.parse(input)
  const timing = clusterTimingError(config)
  if (timing) throw new Error(timing)
  const log = redactingLogger(options.logger ?? pino({ level: config.logLevel }))
  const brokerId = randomUUID()

  let embedded: EmbeddedDatabase | undefined
  let databaseUrl = config.databaseUrl
  if (!databaseUrl) {
    log.info({ dataDir: config.dataDir }, 'no DATABASE_URL: starting the embedded PostgreSQL')
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, log: (l) => log.debug(l) })
    databaseUrl = embedded.url
  }

  const dbUrl = databaseUrl
  const sql = createSql(dbUrl, config.poolSize)
  const keys = new KeyStore(sql, config.encryptionKeys, config.activeEncryptionKey)
  let tokenSecret: TokenSecretSource
  try {
    const applied = await migrate(sql)
    if (applied.length > 0) log.info({ applied }, 'migrations applied')
    tokenSecret = await keys.init()
  } catch (e) {
    await sql.end()
    await embedded?.stop()
    throw e
  }
  const db = createDrizzle(sql)
  const metrics = createMetrics()
  const segments = new SegmentRegistry(sql)
  const crypto = new PayloadCrypto(sql, config.encryptionKeys, config.activeEncryptionKey, log)
  registerPayloadDecoder(sql, (topicId, events) => crypto.decrypt(topicId, events))
  const unlistenErasures = await crypto.start()

  // wired below: the topic service tells the fanout and the publisher about changes
  const late: { fanout?: Fanout; publisher?: Publisher } = {}
  const topics = new TopicService(
    sql,
    db,
    segments,
    {
      onChanged: (name) => {
        void late.fanout?.topicChanged(name).catch(() => {})
        void topics.find(name).then((t) => t && late.publisher?.refreshTopic(t))
      },
      onDeleted: (topic) => {
        late.publisher?.dropTopic(topic.id)
        late.fanout?.closeTopic(topic.id)
      },
    },
    crypto.enabled,
  )
  const fanout = new Fanout(sql, brokerId, (name) => topics.invalidate(name))
  // write connections: a partition always writes on the same one, so its batches pipeline in order
  const openLane = (name: string, lockTimeoutMs: number) =>
    new WriteLane({
      open: () =>
        createSql(dbUrl, 1, {
          applicationName: `questlog-lane-${name}`,
          statementTimeoutMs: config.dbDeadlineMs,
          lockTimeoutMs,
        }),
      stallMs: config.dbDeadlineMs + LANE_GRACE_MS,
      onReplaced: (reason) => {
        metrics.laneReplacements.inc()
        log.warn({ lane: name, reason }, 'write connection replaced')
      },
    })
  const writeLanes = new WriteLanes({
    shared: Array.from({ length: writeLaneCount(config.poolSize) }, (_, i) =>
      openLane(String(i), config.lockWaitMs),
    ),
    // a partition waiting on a lock held elsewhere waits there as long as a statement may run
    openIsolated: (key) => openLane(`partition-${key}`, Math.ceil(config.dbDeadlineMs / 2)),
  })
  const publisher = new Publisher({
    sql,
    topics,
    segments,
    metrics,
    maxBatchEvents: config.maxBatchEvents,
    softQueueEvents: config.softQueueEvents,
    hardQueueEvents: config.hardQueueEvents,
    notifyChannel: EVENTS_CHANNEL,
    lanes: writeLanes,
    notifyPrefix: (t, p) => fanout.eventsPrefix(t, p),
    onCommitted: (t, p, first, events) => fanout.committed(t, p, first, events),
    encrypt: (topic, events) => crypto.encrypt(topic, events),
  })
  late.fanout = fanout
  late.publisher = publisher
  const schemas = new SchemaRegistry(sql)
  const rateLimits = new RateLimiter(sql)
  const pipeline = new PublishPipeline({ topics, schemas, rateLimits, publisher })
  await fanout.start()

  const health = new HealthMonitor({
    sql,
    metrics,
    brokerId,
    version: VERSION,
    diskPath: embedded ? path.resolve(config.dataDir) : process.cwd(),
    queueDepth: () => publisher.maxQueueDepth(),
    laneStalledMs: () => writeLanes.stalledMs(),
    deadlineMs: config.dbDeadlineMs,
    openStreams: () => fanout.listenerCount(),
  })
  await health.start()
  const cluster = new Cluster({
    sql,
    self: { id: brokerId, version: VERSION, startedAt: new Date() },
    health: () => {
      const h = health.report()
      return {
        status: h.status,
        load: h.load[0] ?? 0,
        lag_ms: h.lag_ms,
        db_latency_ms: h.db_latency_ms,
        connections: webSocketConnections(services).size,
        draining: h.draining,
      }
    },
    heartbeatMs: config.heartbeatMs,
    deadAfterMs: config.brokerDeadAfterMs,
    log,
  })
  const stats = new StatsSampler(metrics, health)
  stats.start()
  const retention = new RetentionWorker(sql, topics, segments, metrics, log)
  // work the cluster runs once: on the broker holding its lease (see cluster/cluster.ts)
  retention.start(config.retentionIntervalMs, () => cluster.leads('retention'))
  const compactor = new Compactor(
    sql,
    topics,
    { minDirtyRatio: config.compactionMinDirtyRatio, lockTimeoutMs: 200, drainMs: 10_000, brokerId },
    log,
    () => cluster.leases.get('singleton:compaction'),
  )
  compactor.start(config.compactionIntervalMs)
  // the application's outbox, relayed by one broker of the cluster
  const outbox =
    config.outboxDatabaseUrl === undefined
      ? undefined
      : new OutboxRelay({
          url: config.outboxDatabaseUrl,
          pipeline,
          leads: () => cluster.leads('outbox-relay'),
          log,
        })
  outbox?.start()

  const outbound = new OutboundGuard(config.webhookAllow)
  const delivery = new DeliveryService(sql, topics, pipeline, fanout, outbound, metrics)
  const subscriptionStats = new SubscriptionStats(sql, delivery, metrics, log)
  subscriptionStats.start(config.statsIntervalMs, () => cluster.leads('subscription-stats'))
  const replays = new ReplayJobs(sql, topics, delivery.subs, pipeline, cluster.work, log)
  cluster.work.add(replays)
  const scheduler = new Scheduler(sql, topics, pipeline, crypto, log, {
    by: brokerId,
    ms: config.brokerDeadAfterMs,
  })
  scheduler.start()
  const webhooks = new Webhooks(sql, delivery, outbound, cluster.work, log)
  cluster.work.add(webhooks)
  cluster.every('dead-letter-copies', config.brokerDeadAfterMs, () =>
    delivery.deadLetters.sweep(delivery.subs, config.brokerDeadAfterMs),
  )

  if (tokenSecret === 'stored' && config.auth === 'on') {
    log.warn(
      'no QUESTLOG_ENCRYPTION_KEYS: the browser-token signing secret is kept in the database, so whoever can read it (a backup, a replica) can mint tokens; configure a master key to derive the secret from it instead',
    )
  }
  const audit = new AuditLog(sql, log, { retentionDays: config.auditRetentionDays })
  audit.start(config.retentionIntervalMs, () => cluster.leads('audit-retention'))
  if (config.auth === 'off') {
    log.warn(
      'AUTHENTICATION IS OFF (QUESTLOG_AUTH=off): anyone who can reach this broker can read, write and administer it',
    )
  } else if (config.adminKey) {
    await keys.ensureAdmin(config.adminKey)
  } else if ((await keys.count()) === 0) {
    const { key } = await keys.create({ name: 'bootstrap admin', rules: ADMIN_RULES })
    // only a hash is stored; the embedded default also keeps the key beside its data for local use
    let saved = ''
    if (embedded) {
      const file = path.join(path.dirname(path.resolve(config.dataDir)), 'admin-key')
      await writeFile(file, `${key}\n`, { mode: 0o600 })
      saved = `\n  (also saved in ${file})`
    }
    process.stdout.write(`\nQuestlog admin key (shown once, keep it safe):\n  ${key}${saved}\n\n`)
    log.info('created the bootstrap admin key (printed above)')
  }

  // presence members of every broker, told over the same links
  const presence = new Presence({ maxMembers: config.presenceMaxMembers })
  // request/reply and presence across brokers: a link to each live broker, over their advertised URLs
  const peers = new PeerLinks({
    selfId: brokerId,
    registry: cluster.registry,
    secret: () => keys.peerSecret(),
    router: () => rpcRouterOf(services),
    presence,
    heartbeatMs: config.heartbeatMs,
    deadAfterMs: config.brokerDeadAfterMs,
    maxPayload: config.maxBodyBytes,
    log,
  })
  cluster.onBeat(() => peers.sync())
  // quotas of open sessions hold for the cluster: slots leased from the database
  const quotaSlots = new QuotaSlots(sql, brokerId, config.brokerDeadAfterMs)
  cluster.onBeat(() => void quotaSlots.trim().catch((err) => log.warn({ err }, 'quota upkeep failed')))
  const quotas = new Quotas(config, quotaSlots)
  const services: Services = {
    brokerId,
    cluster,
    peers,
    presence,
    config,
    log,
    sql,
    db,
    segments,
    topics,
    publisher,
    pipeline,
    fanout,
    metrics,
    health,
    stats,
    retention,
    compactor,
    delivery,
    replays,
    scheduler,
    webhooks,
    schemas,
    crypto,
    keys,
    audit,
    rateLimits,
    quotas,
  }
  const app = await createHttpServer(services)
  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= (async () => {
      // first: the others stop counting on this broker while it winds down
      // the relay ends its run before its lease is given up, so the next holder starts after it
      await withTimeout(outbox?.stop() ?? Promise.resolve(), 5000)
      await withTimeout(cluster.stop(), 5000)
      await withTimeout(peers.stop(), 2000)
      health.stop()
      await withTimeout(subscriptionStats.stop(), 5000)
      stats.stop()
      // each step is bounded: a broker whose database is gone must still stop
      await withTimeout(retention.stop(), 5000)
      await withTimeout(compactor.stop(), 5000)
      await withTimeout(replays.stop(), 5000)
      await withTimeout(scheduler.stop(), 5000)
      await withTimeout(webhooks.stop(), 5000)
      await withTimeout(app.close(), 5000)
      // after the server: the refusals of its last requests are summed up too
      await withTimeout(audit.stop(), 5000)
      await withTimeout(fanout.stop(), 2000)
      await withTimeout(unlistenErasures(), 2000)
      await withTimeout(writeLanes.end(), 3000)
      await withTimeout(sql.end({ timeout: 2 }), 3000)
      await withTimeout(embedded?.stop() ?? Promise.resolve(), 10_000)
    })()
    return stopping
  }
  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (e) {
    // nothing may outlive a failed start, the embedded PostgreSQL least of all
    await stop()
    if ((e as { code?: string }).code === 'EADDRINUSE')
      throw new Error(`port ${config.port} on ${config.host} is already in use: set PORT to a free one`)
    throw e
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const url = `${config.tlsCert ? 'https' : 'http'}://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`
  try {
    peers.start()
    await cluster.start(config.advertisedUrl ?? url)
  } catch (e) {
    await stop()
    throw e
  }
  log.info(
    { port, brokerId, embedded: Boolean(embedded) },
    `questlog broker listening on http://${config.host}:${port}`,
  )

  return {
    url,
    port,
    services,
    stop,
  }
}

/** How long past the server's statement timeout a silent write connection is given before it is replaced. */
const LANE_GRACE_MS = 2000

/** Write connections beside the pool: a quarter of the pool size, 2 to 8 (more add no speed on one server). */
function writeLaneCount(poolSize: number): number {
  return Math.min(8, Math.max(2, Math.floor(poolSize / 4)))
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    p.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms)
    }),
  ])
  clearTimeout(timer)
}
