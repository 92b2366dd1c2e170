import http from 'node:http'
import { AUTH_HEADER } from '../auth'

/** A keep-alive HTTP client for one broker; one socket per concurrent request. */
export class HttpClient {
  private readonly agent: http.Agent
  private readonly base: URL

  constructor(url: string, sockets: number) {
    this.base = new URL(url)
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets })
  }

  /** Sends a request and resolves with status and body text. */
  request(method: string, path: string, body?: Buffer | string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.base.hostname,
          port: this.base.port,
          method,
          path,
          agent: this.agent,
          headers:
            body === undefined ? { ...AUTH_HEADER } : { 'content-type': 'application/json', ...AUTH_HEADER },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          )
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body === undefined ? undefined : JSON.stringify(body))
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`)
    return (res.body ? JSON.parse(res.body) : undefined) as T
  }

  close(): void {
    this.agent.destroy()
  }
}
