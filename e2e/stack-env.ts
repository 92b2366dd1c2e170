/** Where global setup tells the tests (in other processes) the stack it started. */
export const BROKER_URL_VAR = 'QUESTLOG_E2E_BROKER_URL'
export const CONSOLE_URL_VAR = 'QUESTLOG_E2E_CONSOLE_URL'
/** The stack's PostgreSQL: a suite that needs a cluster of its own makes a database there. */
export const DATABASE_URL_VAR = 'QUESTLOG_E2E_DATABASE_URL'

/**
 * The administrator key global setup gives the broker (`adminKey`): tests use it for setup over
 * HTTP and to sign in to the console. A fixed value, so a failed run's logs can be read against it.
 */
export const ADMIN_KEY = `ql_e2eadmin0001_${'e'.repeat(43)}`

export interface Stack {
  brokerUrl: string
  consoleUrl: string
}

export function stack(): Stack {
  const brokerUrl = process.env[BROKER_URL_VAR]
  const consoleUrl = process.env[CONSOLE_URL_VAR]
  if (!brokerUrl || !consoleUrl)
    throw new Error('the e2e stack is not running: run the suite with `playwright test`')
  return { brokerUrl, consoleUrl }
}

/** One JSON call to the broker's HTTP API, as any client would make it: with the admin key unless told another (null: none). */
export async function brokerApi<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  key: string | null = ADMIN_KEY,
): Promise<{ status: number; body: T }> {
  const res = await fetch(stack().brokerUrl + path, {
    method,
    headers: {
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T }
}

/** Topic names the broker has now. */
export async function topicNames(): Promise<string[]> {
  const res = await brokerApi<{ topics: Array<{ name: string }> }>('GET', '/v1/topics')
  if (res.status !== 200) throw new Error(`listing topics failed: ${res.status}`)
  return res.body.topics.map((t) => t.name)
}
