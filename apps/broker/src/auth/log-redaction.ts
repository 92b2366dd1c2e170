import pino, { type Logger } from 'pino'
import { redactUrl } from './query-credential'

/**
 * The broker's logger, kept free of credentials whatever a log line carries: a
 * `url` has its access_token replaced, a request logs its method and redacted
 * URL only (never its headers), and an HTTP parser error loses the raw request
 * bytes it carries (they hold the Authorization header).
 */
export function redactingLogger(log: Logger): Logger {
  return log.child(
    {},
    {
      serializers: {
        url: (url: unknown) => (typeof url === 'string' ? redactUrl(url) : url),
        req: (req: { method?: string; url?: string }) => ({
          method: req.method,
          url: typeof req.url === 'string' ? redactUrl(req.url) : undefined,
        }),
        err: (err: Error) => {
          const out: unknown = pino.stdSerializers.err(err)
          if (typeof out === 'object' && out !== null) delete (out as { rawPacket?: unknown }).rawPacket
          return out
        },
      },
    },
  )
}
