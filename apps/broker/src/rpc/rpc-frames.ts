import type { ClientFrame } from '@questlog/protocol'
import { type Principal, requirePattern, requireTopic } from '../auth/principal'
import type { RpcPeer, RpcRouter } from './rpc-router'

export type RpcFrame = Extract<ClientFrame, { op: 'request' | 'respond' | 'unrespond' | 'reply' }>

/**
 * One request/reply frame from a WebSocket client, checked against its key's
 * rules: requesting needs `publish` on the subject, responding `subscribe` on
 * the pattern. Throws a coded error for the caller to send back.
 */
export function handleRpcFrame(
  router: RpcRouter,
  peer: RpcPeer,
  principal: Principal,
  frame: RpcFrame,
): void {
  switch (frame.op) {
    case 'request':
      requireTopic(principal, 'publish', frame.subject)
      router.request(peer, frame.id, {
        subject: frame.subject,
        data: frame.data,
        headers: frame.headers,
        timeoutMs: frame.timeoutMs,
      })
      return
    case 'respond':
      requirePattern(principal, 'subscribe', frame.subject)
      router.respond(peer, frame.rid, frame.subject)
      peer.send({ op: 'ok', id: frame.id })
      return
    case 'unrespond':
      router.unrespond(peer, frame.rid)
      return
    case 'reply':
      router.reply(peer, frame.to, frame)
      return
  }
}
