import http from 'node:http'
import { AUTH_HEADER } from '../auth'

export interface SseStream {
  close(): void
  /** Resolves when the stream ends (closed by either side). */
  ended: Promise<void>
}

/**
 * Opens a Server-Sent Events stream and calls `onData` with each event's
 * `data:` text. Resolves once the response headers have arrived.
 */
export function openSse(url: string, onData: (data: string) => void): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...AUTH_HEADER } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream ${url}: ${res.statusCode}`))
        res.resume()
        return
      }
      res.setEncoding('utf8')
      let buffered = ''
      res.on('data', (chunk: string) => {
        buffered += chunk
        let end = buffered.indexOf('\n\n')
        while (end >= 0) {
          const block = buffered.slice(0, end)
          buffered = buffered.slice(end + 2)
          for (const line of block.split('\n')) if (line.startsWith('data: ')) onData(line.slice(6))
          end = buffered.indexOf('\n\n')
        }
      })
      const ended = new Promise<void>((r) => {
        res.on('close', () => r())
      })
      resolve({ close: () => req.destroy(), ended })
    })
    req.on('error', reject)
  })
}
