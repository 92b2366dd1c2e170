import { EventEmitter } from 'node:events'
import { createLocalBus } from '@questlog/sdk-node'
import EventEmitter3 from 'eventemitter3'
import mitt from 'mitt'
import { type Spread, spread } from '../stats'

/** One in-process dispatcher: `listen` adds a listener that adds `n` of each event to the total. */
interface Contender {
  name: string
  /** Builds a fresh instance with `listeners` listeners on one topic. */
  open(listeners: number, add: (n: number) => void): Opened
}

interface Opened {
  /** Hands one payload to the dispatcher (an emit, or an enqueue for the deferred modes). */
  send(payload: Payload): void
  /** Resolves once everything sent has reached every listener (at once for synchronous emitters). */
  settle(): Promise<void> | undefined
}

interface Payload {
  n: number
  player: string
  x: number
  y: number
}

export interface LocalBusRow {
  system: string
  listeners: number
  /** Nanoseconds per send call, in runs that never yield: emit and dispatch for synchronous emitters, enqueue only for deferred ones. */
  enqueueNs: Spread
  /** Events through to every listener per second: sending and dispatch, until the last listener had the last event. */
  eventsPerSecond: Spread
}

export interface LocalBusOptions {
  reps: number
  /** Events per measured loop. */
  events: number
  /** Events sent in one synchronous run (a tick) before awaiting their dispatch. */
  turn: number
  listenerCounts: number[]
  /** Unmeasured passes of every contender before the measured ones. */
  warmups: number
}

const TOPIC = 'game.hit'

const contenders: Contender[] = [
  {
    name: "Node's EventEmitter",
    open(listeners, add) {
      const e = new EventEmitter()
      e.setMaxListeners(0)
      for (let i = 0; i < listeners; i++) e.on(TOPIC, (p: Payload) => add(p.n))
      return { send: (p) => void e.emit(TOPIC, p), settle: () => undefined }
    },
  },
  {
    name: 'eventemitter3',
    open(listeners, add) {
      const e = new EventEmitter3()
      for (let i = 0; i < listeners; i++) e.on(TOPIC, (p: Payload) => add(p.n))
      return { send: (p) => void e.emit(TOPIC, p), settle: () => undefined }
    },
  },
  {
    name: 'mitt',
    open(listeners, add) {
      const e = mitt<{ [TOPIC]: Payload }>()
      for (let i = 0; i < listeners; i++) e.on(TOPIC, (p) => add(p.n))
      return { send: (p) => e.emit(TOPIC, p), settle: () => undefined }
    },
  },
  localBus('sync'),
  localBus('microtask'),
]

function localBus(dispatch: 'sync' | 'microtask'): Contender {
  return {
    name: `Questlog local bus (${dispatch})`,
    open(listeners, add) {
      const bus = createLocalBus({ dispatch, onHandlerError: (e) => console.error(e) })
      for (let i = 0; i < listeners; i++) bus.subscribe<Payload>(TOPIC, { onEvent: (e) => add(e.data.n) })
      return { send: (p) => void bus.emit(TOPIC, p), settle: () => bus.flush() }
    },
  }
}

/** The same payloads for every contender: a ring of distinct objects, so no emitter sees one object again and again. */
function payloads(count: number): Payload[] {
  return Array.from({ length: count }, (_, n) => ({
    n,
    player: `p${n % 64}`,
    x: n % 1000,
    y: (n * 7) % 1000,
  }))
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})

/**
 * Enqueue cost and dispatch throughput of the local bus against Node's EventEmitter,
 * eventemitter3 and mitt: the same payloads, the same listener count and the same
 * listener body for each; contenders alternate inside each repetition. Every run checks
 * that each listener got every event.
 */
export async function measureLocalBus(o: LocalBusOptions): Promise<LocalBusRow[]> {
  const data = payloads(o.events)
  const expected = data.reduce((s, p) => s + p.n, 0)
  const rows: LocalBusRow[] = []
  for (const listeners of o.listenerCounts) {
    const enqueue = new Map<string, number[]>()
    const rates = new Map<string, number[]>()
    // unmeasured passes first, so that every contender runs optimized code when it is timed
    for (let w = 0; w < o.warmups; w++)
      for (const c of contenders) await once(c, listeners, data, expected, o.turn)
    for (let r = 0; r < o.reps; r++) {
      for (const c of contenders) {
        gc()
        const m = await once(c, listeners, data, expected, o.turn)
        enqueue.set(c.name, [...(enqueue.get(c.name) ?? []), m.enqueueNs])
        rates.set(c.name, [...(rates.get(c.name) ?? []), m.eventsPerSecond])
      }
    }
    for (const c of contenders) {
      rows.push({
        system: c.name,
        listeners,
        enqueueNs: spread(enqueue.get(c.name)!),
        eventsPerSecond: spread(rates.get(c.name)!),
      })
    }
  }
  return rows
}

async function once(
  c: Contender,
  listeners: number,
  data: Payload[],
  expected: number,
  turn: number,
): Promise<{ enqueueNs: number; eventsPerSecond: number }> {
  let total = 0
  const opened = c.open(listeners, (n) => {
    total += n
  })
  let sending = 0
  const t0 = performance.now()
  // in turns of `turn` events, each awaited to the last listener, as a game loop's tick would
  for (let from = 0; from < data.length; from += turn) {
    const end = Math.min(data.length, from + turn)
    const s0 = performance.now()
    for (let i = from; i < end; i++) opened.send(data[i]!)
    sending += performance.now() - s0
    await opened.settle()
  }
  const elapsed = performance.now() - t0
  if (total !== expected * listeners)
    throw new Error(`${c.name}: the listeners got ${total}, not ${expected * listeners}`)
  return { enqueueNs: (sending * 1e6) / data.length, eventsPerSecond: data.length / (elapsed / 1000) }
}
