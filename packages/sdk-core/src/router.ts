import type { BrokerHealth, BrokerInfo } from '@questlog/protocol'

/** How the router weighs brokers' health and when it moves a client. */
export interface RouterOptions {
  /** A broker whose degradation score reaches this is left for a healthy one (default 100). */
  leaveAbove: number
  /** A broker left for its score counts as healthy again once its score is at most this (default 60). */
  healthyBelow: number
  /** Least time on a broker before a move for its score; a drain or a lost connection moves at once (default 10 s). */
  minStayMs: number
  /** A URL whose connection failed is tried again after this, unless nothing else is left (default 5 s). */
  failureCooldownMs: number
  /** Brokers whose scores are within this of the best are equally good: one is picked at random, so clients spread (default 10). */
  spread: number
}

export const DEFAULT_ROUTER: RouterOptions = {
  leaveAbove: 100,
  healthyBelow: 60,
  minStayMs: 10_000,
  failureCooldownMs: 5000,
  spread: 10,
}

/** Why the client is on the broker it is on. */
export type RouteWhy =
  /** The first broker given, before any health was known. */
  | 'first'
  /** The least degraded of the brokers known. */
  | 'healthiest'
  /** The broker it was on crossed the degradation threshold. */
  | 'degraded'
  /** The broker it was on is draining (an operator's lame-duck mode before a deploy). */
  | 'draining'
  /** The connection to the broker it was on was lost, or could not be made. */
  | 'lost'

/** A move: where to, why, and from which broker (its id, when known). */
export interface Route {
  url: string
  why: RouteWhy
  from?: string | undefined
}

/**
 * How degraded a broker reports itself, in points: 0 is idle and healthy; a broker the broker
 * itself calls degraded, or 500 ms of event-loop lag, or 500 ms to its database, is 100 each.
 * Load (the host's load average) counts 5 a unit, so brokers sharing a busy host stay alike;
 * 1000 connections count 10. A broker that is draining, down or has no database is not scored.
 */
export function degradation(h: BrokerHealth): number {
  if (h.status === 'down' || h.draining === true) return Number.POSITIVE_INFINITY
  return (
    (h.status === 'degraded' ? 100 : 0) +
    h.lag_ms / 5 +
    (h.db_latency_ms === null ? 100 : h.db_latency_ms / 5) +
    h.load * 5 +
    h.connections / 100
  )
}

interface Candidate {
  url: string
  /** The broker's registry id, once known (from the live set, or a welcome at this URL). */
  id?: string | undefined
  health?: BrokerHealth | undefined
  /** Whether it is a URL the client was given (kept when the live set forgets it). */
  configured: boolean
}

/**
 * Chooses the broker a client connects to, from the URLs it was given and the live set the
 * brokers report (welcome and `brokers` frames), by their health: the least degraded first, then
 * sticky. A client leaves its broker only when that broker drains, dies, or its score crosses
 * `leaveAbove` — and then only for one that is healthy (at most `healthyBelow`): the gap between
 * the two thresholds is the hysteresis that keeps clients from flapping between brokers whose
 * figures hover around one line. No network here: the session feeds it and acts on its answers.
 */
export class Router {
  private readonly candidates: Candidate[]
  /** Brokers (by URL) over `leaveAbove` that have not come back under `healthyBelow` yet. */
  private readonly unhealthy = new Set<string>()
  /** When a connection to a URL last failed. */
  private readonly failedAt = new Map<string, number>()
  private current: { url: string; since: number; informed: boolean } | undefined

  constructor(
    urls: string[],
    private readonly o: RouterOptions = DEFAULT_ROUTER,
    /** Turns a broker's advertised base URL into the URL the transport connects to. */
    private readonly toUrl: (advertised: string) => string = (u) => u,
    private readonly discover = true,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {
    this.candidates = [...new Set(urls)].map((url) => ({ url, configured: true }))
  }

  /** The URL to connect to next, and why; `lost` names the broker the client just lost, if any. */
  next(lost?: string): Route {
    const from = lost === undefined ? undefined : this.idOf(lost)
    const known = this.candidates.filter((c) => c.health !== undefined)
    const fresh = (c: Candidate) => !this.cooling(c.url)
    if (known.length > 0) {
      const best = this.best(known.filter((c) => fresh(c) && Number.isFinite(degradation(c.health!))))
      if (best) return { url: best.url, why: lost === undefined ? 'healthiest' : 'lost', from }
    }
    // nothing known healthy and reachable: the given URLs in turn, least recently failed first
    const pool = this.candidates.filter(fresh)
    const pick =
      pool.find((c) => c.configured && c.health === undefined) ??
      pool[0] ??
      [...this.candidates].sort(
        (a, b) => (this.failedAt.get(a.url) ?? 0) - (this.failedAt.get(b.url) ?? 0),
      )[0]!
    return { url: pick.url, why: lost === undefined ? 'first' : 'lost', from }
  }

  /** A connection to `url` is open; `brokerId` is who answered there. */
  connected(url: string, brokerId: string | undefined): void {
    this.failedAt.delete(url)
    const c = this.candidates.find((x) => x.url === url)
    if (c && brokerId !== undefined) {
      c.id = brokerId
      // another entry for the same broker (advertised under another name): one is enough
      for (let i = this.candidates.length - 1; i >= 0; i--) {
        const other = this.candidates[i]!
        if (other !== c && other.id === brokerId && !other.configured) this.candidates.splice(i, 1)
      }
    }
    this.current = { url, since: this.now(), informed: c?.health !== undefined }
  }

  /** The connection to `url` failed or was lost: it waits out the cooldown before it is tried again. */
  failed(url: string): void {
    this.failedAt.set(url, this.now())
    if (this.current?.url === url) this.current = undefined
  }

  /** The live set changed (or was first heard). Returns a move to make now, if one is due. */
  observe(brokers: readonly BrokerInfo[]): Route | undefined {
    for (const b of brokers) {
      let c = this.candidates.find((x) => x.id === b.id)
      if (!c) {
        const url = this.toUrl(b.url)
        c = this.candidates.find((x) => x.url === url && (x.id === undefined || x.id === b.id))
        if (!c) {
          if (!this.discover) continue
          c = { url, configured: false }
          this.candidates.push(c)
        }
        c.id = b.id
      }
      c.health = b.health
    }
    // brokers gone from the live set keep no stale figures; discovered ones are forgotten
    const live = new Set(brokers.map((b) => b.id))
    for (let i = this.candidates.length - 1; i >= 0; i--) {
      const c = this.candidates[i]!
      if (c.id === undefined || live.has(c.id)) continue
      if (c.configured) c.health = undefined
      else this.candidates.splice(i, 1)
    }
    for (const c of this.candidates) {
      const score = c.health === undefined ? undefined : degradation(c.health)
      if (score === undefined) this.unhealthy.delete(c.url)
      else if (score >= this.o.leaveAbove) this.unhealthy.add(c.url)
      else if (score <= this.o.healthyBelow) this.unhealthy.delete(c.url)
    }
    return this.decide()
  }

  /** The move due now, if any (see `observe`). */
  decide(): Route | undefined {
    const cur = this.current
    if (!cur) return undefined
    const here = this.candidates.find((c) => c.url === cur.url)
    const from = here?.id
    const others = this.candidates.filter(
      (c) => c.url !== cur.url && c.health !== undefined && !this.cooling(c.url),
    )
    if (here?.health?.draining === true || here?.health?.status === 'down') {
      const to = this.best(others.filter((c) => Number.isFinite(degradation(c.health!))))
      return to && { url: to.url, why: 'draining', from }
    }
    const healthy = others.filter(
      (c) => !this.unhealthy.has(c.url) && degradation(c.health!) <= this.o.healthyBelow,
    )
    if (here?.health === undefined) return undefined
    const score = degradation(here.health)
    // placed before any health was known: the first figures may show a better broker
    if (!cur.informed) {
      cur.informed = true
      const to = this.best(others.filter((c) => Number.isFinite(degradation(c.health!))))
      if (to && degradation(to.health!) + this.o.spread < score && !this.unhealthy.has(to.url))
        return { url: to.url, why: 'healthiest', from }
      return undefined
    }
    if (!this.unhealthy.has(cur.url) || this.now() - cur.since < this.o.minStayMs) return undefined
    const to = this.best(healthy)
    return to && { url: to.url, why: 'degraded', from }
  }

  /** The broker id last known at `url`. */
  idOf(url: string): string | undefined {
    return this.candidates.find((c) => c.url === url)?.id
  }

  /** The candidates as the router sees them now: for `status()` and tests. */
  view(): Array<{ url: string; id?: string; score?: number; unhealthy: boolean; cooling: boolean }> {
    return this.candidates.map((c) => ({
      url: c.url,
      ...(c.id === undefined ? {} : { id: c.id }),
      ...(c.health === undefined ? {} : { score: degradation(c.health) }),
      unhealthy: this.unhealthy.has(c.url),
      cooling: this.cooling(c.url),
    }))
  }

  private cooling(url: string): boolean {
    const t = this.failedAt.get(url)
    return t !== undefined && this.now() - t < this.o.failureCooldownMs
  }

  /** The least degraded of `cs`, picked at random among those within `spread` of it. */
  private best(cs: Candidate[]): Candidate | undefined {
    if (cs.length === 0) return undefined
    const scored = cs.map((c) => ({ c, s: degradation(c.health!) }))
    const min = Math.min(...scored.map((x) => x.s))
    const near = scored.filter((x) => x.s <= min + this.o.spread)
    return near[Math.floor(this.random() * near.length)]!.c
  }
}
