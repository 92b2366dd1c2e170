import { type KeyQuotas, QuotaExceededError, type QuotaName } from '@questlog/protocol'
import type { BrokerConfig } from '../config'
import { isSuperuser, type Principal } from './principal'
import type { QuotaSlots } from './quota-slots'

export type { QuotaName } from '@questlog/protocol'

/**
 * A caller whose creations count toward its key's stored quotas (topics,
 * partitions, subscriptions): the store records `keyId` as their owner and,
 * under a lock of that key, asks `check` before it adds more.
 */
export interface QuotaOwner {
  keyId: string
  /** Throws `quota_exceeded` when what the key has (`used`) plus `adding` passes its limit. */
  check(name: QuotaName, used: number, adding: number): void
}

/**
 * Quotas per key, for the whole cluster: how many topics, partitions and
 * subscriptions a key may have created (counted in the database), and how many
 * streams, connections and waiting confirmations it may hold open on all brokers
 * together (slots leased from the database, see QuotaSlots). A key's own quotas
 * (`KeyQuotas`) win over the broker's defaults; operators' keys (admin on every
 * topic), the broker's own work and a broker with auth off are not bound.
 */
export class Quotas {
  private readonly defaults: Required<KeyQuotas>

  constructor(
    config: BrokerConfig,
    private readonly slots: QuotaSlots,
  ) {
    this.defaults = {
      topics: config.quotaTopics,
      partitions: config.quotaPartitions,
      subscriptions: config.quotaSubscriptions,
      streams: config.quotaStreams,
      connections: config.quotaConnections,
      confirmations: config.quotaConfirmations,
    }
  }

  /** The limit that binds the caller, or null when none does. */
  limit(p: Principal, name: QuotaName): number | null {
    if (!p.keyId || isSuperuser(p)) return null
    return p.quotas[name] ?? this.defaults[name]
  }

  /**
   * Takes one of the caller's open sessions of a kind (an SSE stream, a
   * WebSocket connection, a waiting confirmation) for as long as it lasts;
   * call the returned function when it ends (calling it again does nothing).
   */
  async hold(p: Principal, name: 'streams' | 'connections' | 'confirmations'): Promise<() => void> {
    const limit = this.limit(p, name)
    if (limit === null || !p.keyId) return () => {}
    const keyId = p.keyId
    if (!(await this.slots.take(keyId, name, limit))) throw exceeded(p, name, limit)
    let released = false
    return () => {
      if (released) return
      released = true
      this.slots.give(keyId, name)
    }
  }

  /** The caller as the owner of what it creates, or undefined when no quota binds it. */
  owner(p: Principal): QuotaOwner | undefined {
    if (!p.keyId || isSuperuser(p)) return undefined
    return {
      keyId: p.keyId,
      check: (name, used, adding) => {
        const limit = this.limit(p, name)
        if (limit !== null && used + adding > limit) throw exceeded(p, name, limit)
      },
    }
  }
}

function exceeded(p: Principal, name: QuotaName, limit: number): QuotaExceededError {
  return new QuotaExceededError(
    `key '${p.name}' is at its quota of ${limit} ${name}; free some, or ask an operator for a larger quota`,
    name,
    limit,
  )
}
