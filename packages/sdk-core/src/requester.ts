import { isQuestlogError, type RequestFrame, TimeoutError } from '@questlog/protocol'
import { Deadline } from './deadline'
import { checkAgainst, type RequestRef, requestSubject } from './rpc-def'
import type { Session } from './session'

export interface RequestOptions {
  /** Give up after this long, with a `TimeoutError` (default 5000 ms). Includes waiting for a connection. */
  timeoutMs?: number
  /** Cancels the request; it rejects with an `AbortedError`. */
  signal?: AbortSignal
  /** Headers passed to the responder. */
  headers?: Record<string, string>
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 5000
/** How long past the broker's own timeout the client waits for its verdict before deciding alone. */
const LOCAL_GRACE_MS = 1000

/**
 * Sends one request and resolves with its reply. The broker answers `no_responders`
 * at once when nobody serves the subject, and `timeout` when no reply came in time;
 * a local timer backs the latter up should the broker's answer never arrive.
 */
export async function sendRequest<Req, Res>(
  session: Session,
  subject: RequestRef<Req, Res>,
  data: Req,
  o: RequestOptions = {},
): Promise<Res> {
  const def = typeof subject === 'string' ? undefined : subject
  const checked = checkAgainst(def?.request, data, 'data')
  if (!checked.ok) throw checked.error
  const name = requestSubject(subject)
  const timeoutMs = o.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  const deadline = new Deadline(timeoutMs)
  const timer = new AbortController()
  // while no connection is open the timeout is ours alone; once sent, the broker's verdict gets a grace period
  let local = setTimeout(() => timer.abort('timeout'), timeoutMs)
  const signal = o.signal ? AbortSignal.any([o.signal, timer.signal]) : timer.signal
  try {
    if (!session.isOpen) await session.whenOpen(signal)
    clearTimeout(local)
    local = setTimeout(() => timer.abort('timeout'), deadline.remainingMs() + LOCAL_GRACE_MS)
    const answer = await session.request((id) => {
      // time spent waiting for a connection counts against the timeout
      const f: RequestFrame = {
        op: 'request',
        id,
        subject: name,
        timeoutMs: Math.max(1, deadline.remainingMs()),
      }
      if (checked.value !== undefined) f.data = checked.value as RequestFrame['data']
      if (o.headers !== undefined) f.headers = o.headers
      return f
    }, signal)
    if (answer.op !== 'reply') throw new TimeoutError(`unexpected answer '${answer.op}'`, timeoutMs)
    const reply = checkAgainst(def?.reply, answer.data, 'reply')
    if (!reply.ok) throw reply.error
    return reply.value
  } catch (e) {
    if (timer.signal.aborted && !o.signal?.aborted && isQuestlogError(e) && e.name === 'AbortedError') {
      throw new TimeoutError(`no reply to '${name}' within ${timeoutMs} ms`, timeoutMs)
    }
    throw e
  } finally {
    clearTimeout(local)
  }
}
