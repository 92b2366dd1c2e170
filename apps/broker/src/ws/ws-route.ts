import type { FastifyInstance } from 'fastify'
import { WebSocketServer } from 'ws'
import { originAllowed } from '../auth/origin-policy'
import { queryCredential } from '../auth/query-credential'
import { PEER_PATH } from '../cluster/peer-link'
import type { Services } from '../services'
import { WsConnection } from './ws-connection'

export const WS_PATH = '/v1/ws'

const connections = new WeakMap<Services, Set<WsConnection>>()

/** The WebSocket clients connected to the broker that owns `s` (tests cut them to simulate failures). */
export function webSocketConnections(s: Services): ReadonlySet<WsConnection> {
  return connections.get(s) ?? new Set()
}

/**
 * The credential of the upgrade request, read when the hello frame comes:
 * `Authorization: Bearer …`, or a browser token as `?access_token=` (a key there is refused).
 */
function upgradeCredential(header: string | undefined, url: string | undefined): () => string | undefined {
  const query = new URL(url ?? '/', 'http://localhost').searchParams.get('access_token')
  return () => {
    const fromQuery = query === null ? undefined : queryCredential(query, WS_PATH)
    if (header?.startsWith('Bearer ')) return header.slice(7).trim()
    return fromQuery
  }
}

/** Serves `GET /v1/ws` on the Fastify server's own HTTP listener. */
export function registerWebSocket(app: FastifyInstance, s: Services): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: s.config.maxBodyBytes })
  const live = new Set<WsConnection>()
  connections.set(s, live)
  app.server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0]
    // other brokers' links: they prove themselves there, clients cannot
    if (path === PEER_PATH) return s.peers.accept(req, socket, head)
    if (path !== WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const origin = req.headers.origin
    if (origin !== undefined && !originAllowed(origin, s.config.allowedOrigins)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const c = new WsConnection(ws, s, upgradeCredential(req.headers.authorization, req.url))
      live.add(c)
      s.metrics.streams.inc()
      ws.on('close', () => {
        live.delete(c)
        s.metrics.streams.dec()
      })
    })
  })
  app.addHook('preClose', async () => {
    // clients reconnect to another broker, or to this one once it is back
    for (const c of live) c.shutdown('going_away', 'broker shutting down')
    wss.close()
  })
}
