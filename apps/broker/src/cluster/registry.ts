import type { BrokerHealth, BrokerInfo } from '@questlog/protocol'
import type { Sql } from '../storage/db'

/** One broker's row, with its state judged by the database's clock. */
export interface BrokerRecord {
  id: string
  url: string
  version: string
  startedAt: string
  lastSeenAt: string
  /** `live`; `stopped` after a clean stop; `dead` once its heartbeat is older than the dead-after time. */
  state: 'live' | 'stopped' | 'dead'
  health: BrokerHealth
}

export interface BrokerSelf {
  id: string
  version: string
  startedAt: Date
}

/** Rows of brokers gone this long are deleted; until then the console lists them as stopped or dead. */
const KEEP_GONE_SECONDS = 3600
/** The delete of old rows runs once every this many heartbeats: it is upkeep, not liveness. */
const PRUNE_EVERY = 60
/**
 * Health figures (load, lag, database latency, connections) that moved enough to change a
 * client's choice are sent on at most once every this many heartbeats: clients route by them,
 * but a broker's figures move all the time.
 */
const FIGURES_EVERY = 5

/**
 * Whether a broker's figures moved far enough from those last sent to matter to a router (about
 * 10 of its points, see the SDK's `degradation`): small wobbles of a quiet cluster send nothing.
 */
function movedFar(sent: BrokerHealth | undefined, now: BrokerHealth): boolean {
  if (!sent) return true
  const far = (a: number, b: number, min: number) => Math.abs(a - b) >= Math.max(min, 0.2 * Math.abs(a))
  return (
    far(sent.load, now.load, 2) ||
    far(sent.lag_ms, now.lag_ms, 50) ||
    (sent.db_latency_ms === null) !== (now.db_latency_ms === null) ||
    far(sent.db_latency_ms ?? 0, now.db_latency_ms ?? 0, 50) ||
    far(sent.connections, now.connections, 100)
  )
}

const NO_HEALTH: BrokerHealth = { status: 'down', load: 0, lag_ms: 0, db_latency_ms: null, connections: 0 }

/**
 * The brokers sharing this database. Each heartbeat upserts this broker's row (its URL and
 * health figures) and reads back the live set in the same statement. Liveness is `last_seen`
 * against the database's `now()`, so brokers' clocks may disagree. Listeners hear of a change of
 * the live set (a broker joined, left, died, moved or changed status) once, at the heartbeat that
 * saw it: at most one notice per heartbeat interval, and none while nothing changes. A change of
 * the figures alone (load, lag…) is heard once it is large (`movedFar`), at most once every
 * FIGURES_EVERY heartbeats.
 */
export class BrokerRegistry {
  private url = ''
  private liveSet: BrokerRecord[] = []
  private signature = ''
  /** Each broker's figures as last sent to listeners. */
  private sent = new Map<string, BrokerHealth>()
  private frames: { full: string; limited: string } | undefined
  private readonly listeners = new Set<() => void>()
  private beats = 0

  constructor(
    private readonly sql: Sql,
    readonly self: BrokerSelf,
    private readonly health: () => BrokerHealth,
    private readonly deadAfterMs: number,
  ) {}

  /** This broker's advertised URL, once it listens. */
  get advertisedUrl(): string {
    return this.url
  }

  /** Sets the URL the heartbeats advertise (known once the server listens). */
  advertise(url: string): void {
    this.url = url
  }

  /** Writes this broker's heartbeat and refreshes the live set: one round trip. */
  async heartbeat(): Promise<void> {
    const s = this.self
    const rows = await this.sql`
      WITH me AS (
        INSERT INTO ql_brokers (id, url, version, started_at, last_seen, health)
        VALUES (${s.id}, ${this.url}, ${s.version}, ${s.startedAt.toISOString()}::timestamptz, now(),
                ${JSON.stringify(this.health())}::jsonb)
        ON CONFLICT (id) DO UPDATE SET url = excluded.url, last_seen = now(), health = excluded.health
        RETURNING id, url, version, started_at, last_seen, health
      )
      SELECT id, url, version, started_at, last_seen, health::text AS health FROM me
      UNION ALL
      SELECT id, url, version, started_at, last_seen, health::text AS health FROM ql_brokers
      WHERE id <> ${s.id} AND stopped_at IS NULL
        AND last_seen > now() - make_interval(secs => ${this.deadAfterMs / 1000})`
    const live = rows.map((r) => toRecord(r, 'live')).sort(byStart)
    this.liveSet = live
    const signature = live
      .map((b) => `${b.id}|${b.url}|${b.health.status}|${b.health.draining === true}`)
      .join(',')
    const beat = ++this.beats
    const figures = beat % FIGURES_EVERY === 0 && live.some((b) => movedFar(this.sent.get(b.id), b.health))
    if (signature !== this.signature || figures) {
      this.signature = signature
      this.sent = new Map(live.map((b) => [b.id, b.health]))
      this.frames = undefined
      for (const l of [...this.listeners]) l()
    }
    if (beat % PRUNE_EVERY === 0) {
      await this
        .sql`DELETE FROM ql_brokers WHERE last_seen < now() - make_interval(secs => ${KEEP_GONE_SECONDS})`
    }
  }

  /** Leaves the live set at once (a clean stop), rather than after the dead-after time. */
  async leave(): Promise<void> {
    await this.sql`UPDATE ql_brokers SET stopped_at = now() WHERE id = ${this.self.id}`
  }

  /** The live brokers as of the last heartbeat, this one included, oldest first. */
  live(): readonly BrokerRecord[] {
    return this.liveSet
  }

  /** Called whenever the live set changes; returns the function that stops the calls. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Every broker seen within the last hour, live or not, read now. */
  async list(): Promise<BrokerRecord[]> {
    const rows = await this.sql`
      SELECT id, url, version, started_at, last_seen, health::text AS health,
             CASE WHEN stopped_at IS NOT NULL THEN 'stopped'
                  WHEN last_seen > now() - make_interval(secs => ${this.deadAfterMs / 1000}) THEN 'live'
                  ELSE 'dead' END AS state
      FROM ql_brokers ORDER BY started_at, id`
    return rows.map((r) => toRecord(r, r.state as BrokerRecord['state']))
  }

  /** The live brokers, read now. */
  async listLive(): Promise<BrokerRecord[]> {
    return (await this.list()).filter((b) => b.state === 'live')
  }

  /** The `brokers` frame of the live set, as JSON: `full` for administrators, else the routing view. */
  frame(full: boolean): string {
    this.frames ??= {
      full: JSON.stringify({ op: 'brokers', brokers: this.liveSet.map((b) => brokerInfo(b, true)) }),
      limited: JSON.stringify({ op: 'brokers', brokers: this.liveSet.map((b) => brokerInfo(b, false)) }),
    }
    return full ? this.frames.full : this.frames.limited
  }

  view(full: boolean): BrokerInfo[] {
    return this.liveSet.map((b) => brokerInfo(b, full))
  }
}

/**
 * What a caller may see of a broker. Anyone with a key gets what routing needs (where it is and
 * how healthy); only administrators see its version and times, which tell an attacker which
 * release runs and when it restarted.
 */
export function brokerInfo(b: BrokerRecord, full: boolean): BrokerInfo {
  const info: BrokerInfo = { id: b.id, url: b.url, health: b.health }
  if (full) {
    info.version = b.version
    info.startedAt = b.startedAt
    info.lastSeenAt = b.lastSeenAt
  }
  return info
}

function toRecord(r: Record<string, unknown>, state: BrokerRecord['state']): BrokerRecord {
  let health = NO_HEALTH
  try {
    health = { ...NO_HEALTH, ...(JSON.parse(r.health as string) as Partial<BrokerHealth>) }
  } catch {}
  return {
    id: r.id as string,
    url: r.url as string,
    version: r.version as string,
    startedAt: new Date(r.started_at as string).toISOString(),
    lastSeenAt: new Date(r.last_seen as string).toISOString(),
    state,
    health,
  }
}

function byStart(a: BrokerRecord, b: BrokerRecord): number {
  return a.startedAt === b.startedAt ? (a.id < b.id ? -1 : 1) : a.startedAt < b.startedAt ? -1 : 1
}
