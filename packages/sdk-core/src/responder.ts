import {
  type IncomingRequestFrame,
  isQuestlogError,
  type QuestlogError,
  type ReplyFrame,
} from '@questlog/protocol'
import { AbortedError, ClientClosedError } from './errors'
import { checkAgainst, type RequestDef, type RequestRef, requestSubject } from './rpc-def'
import type { Session, SessionResponder } from './session'

/** What a handler learns about the request besides its payload. */
export interface RequestContext {
  /** The exact subject asked (a responder may serve a pattern). */
  subject: string
  headers: Record<string, string>
  /** Time left before the requester gives up; a reply after that is refused. */
  timeoutMs: number
}

/** Answers one request; a thrown error reaches the requester as a typed error with its code. */
export type RequestHandler<Req, Res> = (data: Req, ctx: RequestContext) => Res | Promise<Res>

export interface RespondOptions {
  /** Stops responding. */
  signal?: AbortSignal
}

/** A registered responder. */
export interface Responder {
  /** The subject or pattern it answers. */
  readonly subject: string
  /** Requests answered so far (replies and errors). */
  readonly handled: number
  /** Stops taking requests; replies to requests already received still go out. */
  close(): void
}

/** Serves one subject pattern on a session: registers on each (re)connect and answers each request. */
export class SessionResponderImpl<Req, Res> implements Responder, SessionResponder {
  readonly subject: string
  handled = 0
  private closed = false
  private readonly def: RequestDef<Req, Res> | undefined
  private settleReady: { resolve: () => void; reject: (e: Error) => void } | undefined
  readonly ready: Promise<void>

  constructor(
    private readonly session: Session,
    private readonly rid: string,
    subject: RequestRef<Req, Res>,
    private readonly handler: RequestHandler<Req, Res>,
    o: RespondOptions,
  ) {
    this.subject = requestSubject(subject)
    this.def = typeof subject === 'string' ? undefined : subject
    this.ready = new Promise((resolve, reject) => {
      this.settleReady = { resolve, reject }
    })
    o.signal?.addEventListener('abort', () => this.close(), { once: true })
    // a client closed before the broker registered us must not leave `respond()` pending
    void session.status.closed().then((e) => this.refuse(e ?? new ClientClosedError()))
    session.addResponder(rid, this)
  }

  onOpen(session: Session): void {
    session
      .request((id) => ({ op: 'respond', id, rid: this.rid, subject: this.subject }))
      .then(
        () => {
          this.settleReady?.resolve()
          this.settleReady = undefined
        },
        (e: Error) => {
          // a refusal (forbidden, bad pattern) is final; a lost connection registers again on reopen
          if (isQuestlogError(e) && e.code !== 'unavailable') {
            this.refuse(e)
            this.close()
          }
        },
      )
  }

  onRequest(frame: IncomingRequestFrame): void {
    if (this.closed) return
    void this.answer(frame)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.refuse(new AbortedError('the responder was closed before it was registered'))
    this.session.removeResponder(this.rid)
  }

  private refuse(e: Error): void {
    this.settleReady?.reject(e)
    this.settleReady = undefined
  }

  private async answer(frame: IncomingRequestFrame): Promise<void> {
    const reply: ReplyFrame = { op: 'reply', to: frame.to }
    try {
      const input = checkAgainst(this.def?.request, frame.data, 'data')
      if (!input.ok) throw input.error
      const out = await this.handler(input.value, {
        subject: frame.subject,
        headers: frame.headers ?? {},
        timeoutMs: frame.timeoutMs,
      })
      if (out !== undefined) reply.data = out as ReplyFrame['data']
    } catch (e) {
      reply.error = toReplyError(e)
    }
    this.handled++
    this.session.send(reply)
  }
}

function toReplyError(e: unknown): NonNullable<ReplyFrame['error']> {
  if (isQuestlogError(e)) {
    const q = e as QuestlogError
    const out: NonNullable<ReplyFrame['error']> = { code: q.code, message: q.message.slice(0, 2000) }
    if (q.details !== undefined) out.details = q.details
    return out
  }
  const message = e instanceof Error ? e.message : String(e)
  return { code: 'internal', message: `responder failed: ${message}`.slice(0, 2000) }
}
