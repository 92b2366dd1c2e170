export interface SseMessage {
  id?: string
  data: string
}

/** A minimal text/event-stream reader over fetch, enough to check ids and payloads. */
export class SseClient {
  readonly messages: SseMessage[] = []
  private readonly controller = new AbortController()
  private waiters: Array<() => void> = []
  status = 0
  done: Promise<void>

  constructor(url: string, headers: Record<string, string> = {}) {
    this.done = this.run(url, headers)
  }

  private async run(url: string, headers: Record<string, string>): Promise<void> {
    try {
      const res = await fetch(url, { headers, signal: this.controller.signal })
      this.status = res.status
      if (!res.body) return
      const decoder = new TextDecoder()
      let buffer = ''
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true })
        let end = buffer.indexOf('\n\n')
        while (end >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const msg: SseMessage = { data: '' }
          let hasData = false
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) msg.id = line.slice(4)
            else if (line.startsWith('data: ')) {
              msg.data += line.slice(6)
              hasData = true
            }
          }
          if (hasData) this.messages.push(msg)
          end = buffer.indexOf('\n\n')
        }
        for (const w of this.waiters.splice(0)) w()
      }
    } catch (e) {
      if ((e as Error).name !== 'AbortError') throw e
    }
  }

  /** Waits until at least `n` messages have arrived. */
  async waitFor(n: number, timeoutMs = 10_000): Promise<SseMessage[]> {
    const deadline = Date.now() + timeoutMs
    while (this.messages.length < n) {
      if (Date.now() > deadline)
        throw new Error(`SSE: ${this.messages.length} of ${n} messages after ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 100)
      })
    }
    return this.messages
  }

  close(): void {
    this.controller.abort()
  }

  events(): any[] {
    return this.messages.map((m) => JSON.parse(m.data))
  }
}
