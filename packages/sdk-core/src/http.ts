import { errorFromBody } from '@questlog/protocol'
import type { TokenSource } from './session'

/**
 * The few calls the SDK makes over plain HTTP (schema registration, scheduled
 * events, confirmed publishes): JSON in and out, errors as typed Questlog errors.
 */
export async function httpCall<T>(
  broker: string,
  token: TokenSource | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const credential = typeof token === 'function' ? await token() : token
  const base = broker
    .replace(/^ws(s?):/, 'http$1:')
    .replace(/\/v1\/ws$/, '')
    .replace(/\/$/, '')
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(credential ? { authorization: `Bearer ${credential}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  const json: unknown = text ? JSON.parse(text) : undefined
  if (!res.ok) throw errorFromBody(json, res.status)
  return json as T
}
