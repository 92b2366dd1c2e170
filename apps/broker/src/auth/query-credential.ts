import { AuthError } from '@questlog/protocol'

/** Where a browser cannot send headers (EventSource, the WebSocket constructor): a token may come in the query there. */
const QUERY_TOKEN_PATHS = [/^\/v1\/topics\/[^/]+\/stream$/, /^\/v1\/ws$/]

/**
 * A credential given as `?access_token=`. URLs end up in proxy logs, browser
 * history and Referer headers, so only short-lived browser tokens (`qt_…`) are
 * taken there, and only on the paths that need it; an API key is refused
 * without being looked at.
 */
export function queryCredential(value: string, path: string): string {
  if (!value.startsWith('qt_')) {
    throw new AuthError(
      'API keys are not accepted in the query string: send the key in an Authorization: Bearer header, or mint a short-lived browser token (POST /v1/tokens) for access_token',
    )
  }
  if (!QUERY_TOKEN_PATHS.some((p) => p.test(path))) {
    throw new AuthError(
      'access_token is accepted only by /v1/topics/{topic}/stream and /v1/ws: send the token in an Authorization: Bearer header',
    )
  }
  return value
}

const QUERY_SECRET = /([?&]access_token=)[^&#]*/gi

/** A request URL fit for a log: the value of any `access_token` is replaced. */
export function redactUrl(url: string): string {
  return url.replace(QUERY_SECRET, '$1[redacted]')
}
