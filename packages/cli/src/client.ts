import { errorFromBody } from '@questlog/protocol'

export interface ClientOptions {
  broker: string
  key?: string | undefined
}

/** The broker's HTTP API for the CLI: JSON in and out, errors as typed Questlog errors. */
export class HttpClient {
  constructor(private readonly o: ClientOptions) {}

  get base(): string {
    return this.o.broker.replace(/\/$/, '')
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.o.key ? { authorization: `Bearer ${this.o.key}` } : {}), ...extra }
  }

  async call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response
    try {
      res = await fetch(this.base + path, {
        method,
        headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (e) {
      throw new Error(`cannot reach the broker at ${this.base}: ${(e as Error).message}`)
    }
    const text = await res.text()
    const json = text ? (JSON.parse(text) as unknown) : undefined
    if (!res.ok) throw errorFromBody(json, res.status)
    return json as T
  }
}
