import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { type Broker, createBroker } from '@questlog/broker'
import postgres from 'postgres'
import { startConsole, stopProcess } from '../global-setup'
import { ADMIN_KEY, DATABASE_URL_VAR } from '../stack-env'

export interface OwnCluster {
  broker: Broker
  consoleUrl: string
  /** One JSON call to this broker with the admin key. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>
  stop(): Promise<void>
}

/**
 * A broker on a database of its own on the stack's PostgreSQL, and a console signed in to it
 * with the admin key: a suite that fills a cluster with thousands of topics leaves the shared
 * one as the other suites expect it.
 */
export async function ownCluster(): Promise<OwnCluster> {
  const admin = process.env[DATABASE_URL_VAR]
  if (!admin) throw new Error('the e2e stack is not running: run the suite with `playwright test`')
  const name = `ql_e2e_${randomBytes(5).toString('hex')}`
  const sql = postgres(admin, { max: 1, onnotice: () => {} })
  await sql.unsafe(`CREATE DATABASE ${name}`)
  await sql.end()
  const url = new URL(admin)
  url.pathname = `/${name}`
  let broker: Broker | undefined
  let consoleProcess: ChildProcess | undefined
  const stop = async () => {
    if (consoleProcess) await stopProcess(consoleProcess)
    await broker?.stop()
  }
  try {
    broker = await createBroker({
      port: 0,
      databaseUrl: url.toString(),
      logLevel: 'warn',
      statsIntervalMs: 5000,
      auth: 'on',
      adminKey: ADMIN_KEY,
    })
    const started = await startConsole(broker.url, { QUESTLOG_CONSOLE_KEY: ADMIN_KEY })
    consoleProcess = started.process
    const base = broker.url
    return {
      broker,
      consoleUrl: started.url,
      async api(method, path, body) {
        const res = await fetch(base + path, {
          method,
          headers: {
            authorization: `Bearer ${ADMIN_KEY}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        })
        const text = await res.text()
        return { status: res.status, body: (text ? JSON.parse(text) : undefined) as never }
      },
      stop,
    }
  } catch (e) {
    await stop()
    throw e
  }
}

/** Runs `task` over `items`, `width` at a time. */
export async function inParallel<T>(items: T[], width: number, task: (item: T) => Promise<void>) {
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await task(items[next++]!)
    }),
  )
}
