import { readEnv } from '@/env'
import { keyIdOf } from './session'
import type { trpc } from './trpc'

type KeyList = Awaited<ReturnType<typeof trpc.keys.list.query>>

export type KeyCheck = { ok: true; keyId: string; name: string } | { ok: false; message: string }

/**
 * Asks the broker whether `key` may administer it, with a call only administrators may make
 * (the key list, which also names the key).
 */
export async function checkAdminKey(key: string): Promise<KeyCheck> {
  const { QUESTLOG_BROKER_URL } = readEnv()
  let res: Response
  try {
    res = await fetch(`${QUESTLOG_BROKER_URL.replace(/\/$/, '')}/trpc/keys.list`, {
      headers: { authorization: `Bearer ${key}` },
      cache: 'no-store',
      signal: AbortSignal.timeout(10_000),
    })
  } catch {
    return {
      ok: false,
      message: `The console cannot reach the broker at ${QUESTLOG_BROKER_URL}. Is it running?`,
    }
  }
  const body = (await res.json().catch(() => null)) as {
    result?: { data?: KeyList }
    error?: { message?: string }
  } | null
  if (res.status === 401) {
    const why = body?.error?.message
    return { ok: false, message: `The broker does not accept this key${why ? ` (${why})` : ''}.` }
  }
  if (res.status === 403) {
    return {
      ok: false,
      message:
        'This key is valid but is not an administrator: the console needs a key allowed admin on every topic (>).',
    }
  }
  if (!res.ok || !body?.result?.data) {
    return { ok: false, message: `The broker could not check the key (HTTP ${res.status}). Try again.` }
  }
  const keyId = keyIdOf(key)
  const name = body.result.data.find((k) => k.id === keyId)?.name ?? keyId
  return { ok: true, keyId, name }
}
