/**
 * Whether a page from `origin` (a request's `Origin` header) may use the broker from a browser:
 * CORS on HTTP and SSE, and WebSocket handshakes, all from `allowedOrigins`. A request without
 * `Origin` is not a cross-origin browser call and is not this policy's to refuse.
 *
 * `null` is the origin of sandboxed frames, `file:` pages and some redirects: any of them may
 * send it, so `*` does not cover it; only listing `null` itself does.
 */
export function originAllowed(origin: string, allowed: readonly string[]): boolean {
  if (allowed.includes(origin)) return true
  return origin !== 'null' && allowed.includes('*')
}
