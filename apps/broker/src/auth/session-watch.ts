import { AuthError } from '@questlog/protocol'
import type { Principal } from './principal'

/** How often open sessions are checked: a revocation on any broker ends them within this and a query. */
const CHECK_MS = 1000

/** Of the given key ids, those that can no longer be used, each with the reason. */
export type EndedKeys = (ids: string[]) => Promise<Map<string, string>>

interface Watched {
  principal: Principal
  end: (error: AuthError) => void
}

/**
 * Ends long-lived sessions (WebSocket connections, SSE streams) when the right
 * they were opened with ends: at the token's or the key's expiry, and within a
 * second of the key's revocation on any broker. One query a second covers all
 * the sessions of this broker, however many there are.
 */
export class SessionWatch {
  private readonly sessions = new Set<Watched>()
  private timer: NodeJS.Timeout | undefined
  private checking: Promise<void> | undefined

  constructor(private readonly ended: EndedKeys) {}

  /** Calls `end` once, when the principal's right ends; the returned function stops watching. */
  watch(principal: Principal, end: (error: AuthError) => void): () => void {
    if (principal.keyId === null && principal.expiresAt === null) return () => {}
    const w: Watched = { principal, end }
    this.sessions.add(w)
    if (!this.timer) {
      this.timer = setInterval(() => void this.check(), CHECK_MS)
      this.timer.unref()
    }
    return () => this.forget(w)
  }

  /** Checks every session now (also after a revocation on this broker). */
  check(): Promise<void> {
    this.checking ??= this.run().finally(() => {
      this.checking = undefined
    })
    return this.checking
  }

  private async run(): Promise<void> {
    const now = Date.now()
    for (const w of this.sessions) {
      if (w.principal.expiresAt !== null && w.principal.expiresAt <= now)
        this.finish(w, w.principal.kind === 'token' ? 'this token has expired' : 'this API key has expired')
    }
    const ids = new Set<string>()
    for (const w of this.sessions) if (w.principal.keyId !== null) ids.add(w.principal.keyId)
    if (ids.size === 0) return
    let ended: Map<string, string>
    try {
      ended = await this.ended([...ids])
    } catch {
      // the database did not answer: sessions go on, and are checked again on the next round
      return
    }
    for (const w of this.sessions) {
      const why = w.principal.keyId === null ? undefined : ended.get(w.principal.keyId)
      if (why === undefined) continue
      this.finish(
        w,
        w.principal.kind === 'token' ? `the key that minted this token ${why}` : `this API key ${why}`,
      )
    }
  }

  private finish(w: Watched, message: string): void {
    this.forget(w)
    w.end(new AuthError(message))
  }

  private forget(w: Watched): void {
    this.sessions.delete(w)
    if (this.sessions.size === 0 && this.timer) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }
}
