import type { Spread } from '../stats'
import { rate, table } from './format'
import type { Results } from './results'

const ns = (s: Spread) =>
  s.n === 1 ? s.median.toFixed(0) : `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`

/** The in-process bus section of BENCHMARKS.md; empty for runs made before it was measured. */
export function localBusSection(r: Results): string[] {
  const lb = r.localBus
  if (!lb) return []
  const base = (listeners: number) =>
    lb.rows.find((x) => x.listeners === listeners && x.system === "Node's EventEmitter")?.eventsPerSecond
      .median
  return [
    '## In-process bus: `createLocalBus()` against EventEmitter, eventemitter3 and mitt',
    '',
    `Measured ${lb.date} with \`${lb.command}\` (seconds, no broker), in one Node process: each contender`,
    `gets the same ${lb.events.toLocaleString('en')} payload objects (\`{n, player, x, y}\`, all distinct), sent in turns of ${lb.turn}`,
    '(each turn awaited until the last listener had it, as a game tick would), to the same number of listeners,',
    'each adding `n` to a total that is checked after every run. Contenders alternate inside each of',
    `${lb.reps} repetitions, after unmeasured warm-up passes; median (min–max).` +
      (lb.loadAverage === undefined
        ? ''
        : ` The machine's load average was ${lb.loadAverage.toFixed(1)} as it began (${r.machine.nproc} CPUs, shared).`),
    '',
    table(
      ['system', 'listeners', 'enqueue ns/op', 'dispatch events/s', 'dispatch vs EventEmitter'],
      lb.rows.map((x) => {
        const b = base(x.listeners)
        return [
          x.system,
          String(x.listeners),
          ns(x.enqueueNs),
          rate(x.eventsPerSecond),
          b ? `${((x.eventsPerSecond.median / b) * 100).toFixed(0)}%` : 'n/a',
        ]
      }),
    ),
    '',
    '*enqueue ns/op* is the time inside the send calls per event. EventEmitter, eventemitter3, mitt and the',
    'local bus in `sync` mode call every listener inside that call; in `microtask` mode the call only puts the',
    'event in the ring and the listeners run after the turn, so its dispatch shows in *dispatch events/s*:',
    'events through to every listener per second, sending included. The local bus does more per event than',
    'an emitter: it checks the topic name, stamps an envelope (topic, offset, time, key, type), keeps',
    'counters and applies its overrun policy.',
    '',
  ]
}
