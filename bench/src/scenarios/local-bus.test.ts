import { describe, expect, it } from 'vitest'
import { localBusSection } from '../report/local-bus'
import type { Results } from '../report/results'
import { measureLocalBus } from './local-bus'

describe('the in-process bus scenario', () => {
  it('measures every contender for every listener count, each run checked, and renders one row each', async () => {
    const rows = await measureLocalBus({
      reps: 1,
      events: 3000,
      turn: 1000,
      listenerCounts: [1, 3],
      warmups: 0,
    })
    expect(rows.map((r) => `${r.listeners} ${r.system}`)).toEqual(
      [1, 3].flatMap((n) =>
        [
          "Node's EventEmitter",
          'eventemitter3',
          'mitt',
          'Questlog local bus (sync)',
          'Questlog local bus (microtask)',
        ].map((s) => `${n} ${s}`),
      ),
    )
    for (const r of rows) {
      expect(r.enqueueNs.median).toBeGreaterThan(0)
      expect(r.eventsPerSecond.median).toBeGreaterThan(0)
    }
    const md = localBusSection({
      machine: { nproc: 2 },
      localBus: { date: 'd', command: 'c', reps: 1, events: 3000, turn: 1000, loadAverage: 1, rows },
    } as unknown as Results).join('\n')
    expect(md.match(/^\| Questlog local bus/gm)).toHaveLength(4)
    expect(md).toContain('| 100% |')
  })
})
