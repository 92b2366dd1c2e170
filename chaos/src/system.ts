import { type BrokerProcess, startBroker } from '@questlog/testkit'

/** The admin key every broker of a scenario is started with and every client presents. */
export const CHAOS_ADMIN_KEY = `ql_chaosadmin01_${'C'.repeat(43)}`

export interface ChaosBroker extends BrokerProcess {
  /** Lines it logged at error level or above, and any unhandled error it printed. */
  errors: string[]
}

/** A built broker (`npm run broker`'s bundle) in its own process on `databaseUrl`. */
export async function startChaosBroker(
  databaseUrl: string,
  env: Record<string, string> = {},
  /** Its port (a restart in place); a free one when absent. */
  port?: number,
): Promise<ChaosBroker> {
  const errors: string[] = []
  const b = await startBroker(databaseUrl, {
    adminKey: CHAOS_ADMIN_KEY,
    ...(port === undefined ? {} : { port }),
    env: { LOG_LEVEL: 'warn', QUESTLOG_DB_DEADLINE_MS: '5000', ...env },
    onOutput: (chunk) => {
      for (const line of chunk.split('\n')) {
        if (/"level":(50|60)|Unhandled|uncaught/i.test(line)) errors.push(line.slice(0, 500))
      }
    },
  })
  return Object.assign(b, { errors })
}

export async function createTopic(broker: string, name: string, partitions: number): Promise<void> {
  const res = await fetch(`${broker}/v1/topics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CHAOS_ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, partitions }),
  })
  if (res.status !== 201) throw new Error(`create topic ${name}: ${res.status} ${await res.text()}`)
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Waits until `cond` holds or `timeoutMs` passes; says which. */
export async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (!cond()) {
    if (performance.now() > deadline) return false
    await sleep(20)
  }
  return true
}
