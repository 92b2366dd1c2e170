import { AuthError, WS_CLOSE_CODES } from '@questlog/protocol'
import { AbortedError, ConnectionLostError } from './errors'

/** One open connection to a broker, as the client core sees it: text frames in (binary ones for publishes in columns) and out. */
export interface TransportConnection {
  send(data: string | Uint8Array): void
  /** Frames as they arrive; ends when the connection closes, and throws an AuthError when the broker closed it because the credential ended. */
  readonly frames: AsyncIterable<string>
  close(code?: number, reason?: string): void
  /** Bytes queued locally, not yet written to the network. */
  readonly bufferedAmount: number
}

/** Opens connections; implemented once per platform. */
export interface Transport {
  connect(url: string, signal: AbortSignal): Promise<TransportConnection>
}

/** The subset of the WHATWG WebSocket that both browsers and the `ws` package provide. */
export interface WebSocketLike {
  readonly readyState: number
  readonly bufferedAmount: number
  send(data: string | Uint8Array): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (ev: never) => void): void
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

/** A transport over any WHATWG-style WebSocket class (the browser's, or `ws` in Node). */
export function webSocketTransport(Ctor: WebSocketConstructor): Transport {
  return {
    connect(url, signal) {
      return new Promise((resolve, reject) => {
        const socket = new Ctor(url)
        const queue: string[] = []
        let ended = false
        let refused: AuthError | undefined
        let wake: (() => void) | undefined
        const onAbort = () => {
          socket.close(1000, 'aborted')
          reject(new AbortedError(signal.reason))
        }
        signal.addEventListener('abort', onAbort, { once: true })
        socket.addEventListener('message', (ev: { data: unknown }) => {
          queue.push(typeof ev.data === 'string' ? ev.data : String(ev.data))
          wake?.()
        })
        socket.addEventListener('close', (ev: { code?: number; reason?: string }) => {
          ended = true
          if (ev.code === WS_CLOSE_CODES.unauthorized)
            refused = new AuthError(
              ev.reason || 'the broker ended the session: the credential is no longer valid',
            )
          wake?.()
          signal.removeEventListener('abort', onAbort)
          reject(
            new ConnectionLostError(
              `connection closed (${ev.code ?? 'no code'}${ev.reason ? `: ${ev.reason}` : ''})`,
            ),
          )
        })
        socket.addEventListener('error', () => {
          // a close event always follows; it settles everything
        })
        socket.addEventListener('open', () => {
          signal.removeEventListener('abort', onAbort)
          resolve({
            send: (data) => socket.send(data),
            close: (code, reason) => socket.close(code, reason),
            get bufferedAmount() {
              return socket.bufferedAmount
            },
            frames: {
              async *[Symbol.asyncIterator]() {
                for (;;) {
                  while (queue.length > 0) yield queue.shift()!
                  if (ended) {
                    if (refused) throw refused
                    return
                  }
                  await new Promise<void>((r) => {
                    wake = r
                  })
                  wake = undefined
                }
              },
            },
          })
        })
      })
    },
  }
}

/** `http://host:4600` → `ws://host:4600/v1/ws`. */
export function webSocketUrl(broker: string): string {
  const u = new URL(broker)
  if (u.protocol === 'http:') u.protocol = 'ws:'
  else if (u.protocol === 'https:') u.protocol = 'wss:'
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/ws'
  return u.toString()
}
