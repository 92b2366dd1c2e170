import { createClient, isQuestlogError, type QuestlogClient } from '@questlog/sdk-node'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { webSocketConnections } from '../src/ws/ws-route'
import { api, rawSocket, startBroker, waitFor } from './helpers'

const ADMIN = `ql_presenceadm1_${'p'.repeat(43)}`
const asAdmin = { authorization: `Bearer ${ADMIN}` }

describe('presence: ACLs, tokens, limits and the HTTP read', () => {
  let broker: Broker
  let lobbyKey: string
  let readerKey: string
  const clients: QuestlogClient[] = []
  const sockets: Array<Awaited<ReturnType<typeof rawSocket>>> = []
  beforeAll(async () => {
    broker = await startBroker({
      auth: 'on',
      adminKey: ADMIN,
      presenceMaxMembers: 3,
      presenceMaxInfoBytes: 64,
    })
    lobbyKey = (
      await broker.services.keys.create({
        name: 'game backend',
        rules: [{ effect: 'allow', actions: ['presence', 'publish'], topics: ['lobby.>', 'chat.>'] }],
      })
    ).key
    // subscribe on the lobbies, but no presence there
    readerKey = (
      await broker.services.keys.create({
        name: 'reader',
        rules: [{ effect: 'allow', actions: ['subscribe', 'publish'], topics: ['lobby.>'] }],
      })
    ).key
  })
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    for (const s of sockets.splice(0)) s.ws.terminate()
  })
  afterAll(async () => {
    await broker?.stop()
  })
  const client = (token: string) => {
    const c = createClient({ brokers: [broker.url], token })
    clients.push(c)
    return c
  }
  const socket = async (token: string) => {
    const s = await rawSocket(broker.url)
    sockets.push(s)
    s.send({ op: 'hello', v: 1, token })
    expect((await s.next(1)).op).toBe('welcome')
    return s
  }

  it('a browser token minted from a key with `presence` enters and watches the channels its rules allow, and no others', async () => {
    const minted = await api(
      broker.url,
      'POST',
      '/v1/tokens',
      { ttlSeconds: 60, rules: [{ actions: ['presence'], topics: ['lobby.>'] }] },
      { authorization: `Bearer ${lobbyKey}` },
    )
    expect(minted.status).toBe(201)
    const token = minted.body.token as string
    const bus = client(token)
    const lobby = bus.presence<{ name: string }>('lobby.1', { member: 'ann' })
    await lobby.enter({ name: 'Ann' })
    expect((await lobby.members()).map((m) => [m.id, m.info])).toEqual([['ann', { name: 'Ann' }]])

    // the token's rules stop at lobbies, though its key may use chat too
    await expect(bus.presence('chat.1').enter()).rejects.toMatchObject({ code: 'forbidden' })
    let refused: unknown
    try {
      await bus.presence('chat.1').members()
    } catch (e) {
      refused = e
    }
    expect(isQuestlogError(refused) && refused.code).toBe('forbidden')

    // over HTTP with the same token: its lobby, not the chat
    const read = await api(broker.url, 'GET', '/v1/presence/lobby.1', undefined, {
      authorization: `Bearer ${token}`,
    })
    expect(read.status).toBe(200)
    expect(read.body.members).toEqual([{ id: 'ann', connection: expect.any(String), info: { name: 'Ann' } }])
    const other = await api(broker.url, 'GET', '/v1/presence/chat.1', undefined, {
      authorization: `Bearer ${token}`,
    })
    expect(other.status).toBe(403)
    // an operator reads any channel
    expect(
      (await api(broker.url, 'GET', '/v1/presence/lobby.1', undefined, asAdmin)).body.members,
    ).toHaveLength(1)
    await lobby.leave()
    expect((await api(broker.url, 'GET', '/v1/presence/lobby.1', undefined, asAdmin)).body.members).toEqual(
      [],
    )
  })

  it('`subscribe` on a channel is not `presence`: such a key may neither enter nor watch', async () => {
    const s = await socket(readerKey)
    s.send({ op: 'presence', id: 7, action: 'enter', channel: 'lobby.2', member: 'x' })
    expect(await s.next(2)).toMatchObject({ op: 'error', id: 7, code: 'forbidden' })
    s.send({ op: 'presence_watch', sid: 'w', channel: 'lobby.2' })
    expect(await s.next(3)).toMatchObject({ op: 'error', sid: 'w', code: 'forbidden' })
    const read = await api(broker.url, 'GET', '/v1/presence/lobby.2', undefined, {
      authorization: `Bearer ${readerKey}`,
    })
    expect(read.status).toBe(403)
  })

  it('caps a channel, a member info and bad input with clear errors naming the field', async () => {
    const s = await socket(lobbyKey)
    s.send({
      op: 'presence',
      id: 1,
      action: 'enter',
      channel: 'lobby.full',
      member: 'a',
      info: { bio: 'x'.repeat(100) },
    })
    const tooBig = await s.next(2)
    expect(tooBig).toMatchObject({
      op: 'error',
      id: 1,
      code: 'payload_too_large',
      details: { path: 'info', limit: 64 },
    })
    expect(tooBig.message).toContain('QUESTLOG_PRESENCE_MAX_INFO_BYTES')
    for (const [i, m] of ['a', 'b', 'c'].entries()) {
      s.send({ op: 'presence', id: 10 + i, action: 'enter', channel: 'lobby.full', member: m })
      expect(await s.next(3 + i)).toEqual({ op: 'ok', id: 10 + i })
    }
    s.send({ op: 'presence', id: 20, action: 'enter', channel: 'lobby.full', member: 'd' })
    const full = await s.next(6)
    expect(full).toMatchObject({ op: 'error', id: 20, code: 'quota_exceeded', details: { maxMembers: 3 } })
    // one already in may still update
    s.send({
      op: 'presence',
      id: 21,
      action: 'update',
      channel: 'lobby.full',
      member: 'a',
      info: { ready: true },
    })
    expect(await s.next(7)).toEqual({ op: 'ok', id: 21 })
    s.send({ op: 'presence', id: 22, action: 'update', channel: 'lobby.full', member: 'zz', info: {} })
    expect(await s.next(8)).toMatchObject({ op: 'error', id: 22, code: 'bad_request' })
    s.send({ op: 'presence', id: 23, action: 'enter', channel: 'lobby.full', member: 'e', ttlMs: 10 })
    expect(await s.next(9)).toMatchObject({
      op: 'error',
      id: 23,
      code: 'validation_error',
      details: { issues: [expect.objectContaining({ path: 'ttlMs' })] },
    })
    const badName = await api(broker.url, 'GET', '/v1/presence/lobby..x', undefined, asAdmin)
    expect(badName.status).toBe(400)
    expect(badName.body.error.details.issues[0].path).toBe('channel')
    // a leave frees the place
    s.send({ op: 'presence', id: 24, action: 'leave', channel: 'lobby.full', member: 'b' })
    expect(await s.next(10)).toEqual({ op: 'ok', id: 24 })
    s.send({ op: 'presence', id: 25, action: 'enter', channel: 'lobby.full', member: 'd' })
    expect(await s.next(11)).toEqual({ op: 'ok', id: 25 })
  })

  it('an SDK member enters again after its connection is cut, its watcher follows, and an iterator ends quietly when its client closes', async () => {
    const a = client(lobbyKey)
    const w = client(lobbyKey)
    const pa = a.presence<{ v: number }>('lobby.cut', { member: 'a' })
    await pa.enter({ v: 1 })
    const pw = w.presence<{ v: number }>('lobby.cut', { member: 'w' })
    await pw.enter()
    const ids = async () =>
      (await pw.members())
        .map((m) => m.id)
        .sort()
        .join(',')
    expect(await waitFor(ids, (v) => v === 'a,w')).toBe('a,w')
    // the iterator's own view: the snapshot, then every change it reports
    const seen = new Map((await pw.members()).map((m) => [m.id, m.info]))
    const loop = (async () => {
      for await (const c of pw) {
        if (c.type === 'leave') seen.delete(c.member.id)
        else seen.set(c.member.id, c.member.info)
      }
      return 'ended'
    })()
    for (const conn of webSocketConnections(broker.services)) conn.terminate()
    const back = await waitFor(
      async () =>
        (await api(broker.url, 'GET', '/v1/presence/lobby.cut', undefined, asAdmin)).body.members
          .map((m: { id: string }) => m.id)
          .sort()
          .join(','),
      (v) => v === 'a,w',
    )
    expect(back).toBe('a,w')
    await pa.update({ v: 2 })
    const followed = await waitFor(
      async () =>
        [...seen]
          .sort()
          .map(([id, info]) => `${id}=${JSON.stringify(info)}`)
          .join(' '),
      (v) => v === 'a={"v":2} w=undefined',
    )
    expect(followed).toBe('a={"v":2} w=undefined')
    expect(await ids()).toBe('a,w')
    await w.close()
    expect(await loop).toBe('ended')
  })
})
