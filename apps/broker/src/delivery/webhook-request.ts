import http from 'node:http'
import https from 'node:https'
import { isIP } from 'node:net'
import type { OutboundGuard } from './outbound-guard'

/**
 * Most bytes of an endpoint's answer read before the connection is dropped: the verdict is the
 * status line, the body is read only so a short one leaves the connection reusable.
 */
export const MAX_RESPONSE_BYTES = 64 * 1024

export interface WebhookAnswer {
  status: number | null
  error: string | null
}

function verdict(status: number): string | null {
  if (status >= 200 && status < 300) return null
  if (status >= 300 && status < 400) return `HTTP ${status} (redirects are not followed)`
  return `HTTP ${status}`
}

/**
 * POSTs webhook bodies with node:http so that every step is the broker's: sockets connect only
 * through the guard's lookup (an address literal is checked here, as sockets skip the lookup
 * for those), redirects are answers rather than new requests, a response body costs at most
 * MAX_RESPONSE_BYTES of reading, and one deadline covers connect, answer and body.
 */
export class WebhookClient {
  private readonly http = new http.Agent({ keepAlive: true })
  private readonly https = new https.Agent({ keepAlive: true })

  constructor(private readonly guard: OutboundGuard) {}

  post(
    url: string,
    headers: Record<string, string>,
    body: string,
    timeoutMs: number,
  ): Promise<WebhookAnswer> {
    return new Promise((resolve) => {
      const target = new URL(url)
      const host = target.hostname.replace(/^\[(.*)\]$/, '$1')
      if (isIP(host)) {
        const why = this.guard.refusal(host, host)
        if (why) return resolve({ status: null, error: why })
      }
      let status: number | null = null
      let settled = false
      const finish = (answer: WebhookAnswer) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(answer)
      }
      const secure = target.protocol === 'https:'
      const req = (secure ? https : http).request(
        target,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          agent: secure ? this.https : this.http,
          lookup: this.guard.lookup,
        },
        (res) => {
          status = res.statusCode ?? 0
          const answer = { status, error: verdict(status) }
          let read = 0
          res.on('data', (chunk: Buffer) => {
            read += chunk.length
            if (read > MAX_RESPONSE_BYTES) {
              res.destroy()
              finish(answer)
            }
          })
          res.on('end', () => finish(answer))
          res.on('close', () => finish(answer))
          res.on('error', () => finish(answer))
        },
      )
      const timer = setTimeout(() => {
        req.destroy()
        // an answer whose body trickles still said what it had to in its status line
        finish(
          status === null
            ? { status: null, error: `no answer within ${timeoutMs} ms` }
            : { status, error: verdict(status) },
        )
      }, timeoutMs)
      req.on('error', (e) => finish({ status, error: e.message || String(e) }))
      req.end(body)
    })
  }

  close(): void {
    this.http.destroy()
    this.https.destroy()
  }
}
