// No broker needed: node --import tsx examples/local-bus.ts
import { createLocalBus, defineTopic } from '@questlog/sdk-node'
import { z } from 'zod'

// one bus inside the match server: its systems talk without a network hop
const bus = createLocalBus({ dispatch: 'sync', capacity: 4096, overrun: 'drop-oldest' })
const hits = defineTopic(
  'match.hits',
  z.object({ attacker: z.string(), target: z.string(), damage: z.number().int() }),
)

const health = new Map([['p2', 100]])
bus.subscribe(hits, {
  onEvent: (ev) => health.set(ev.data.target, (health.get(ev.data.target) ?? 100) - ev.data.damage),
})
// a pattern, as on a broker: every topic under match.
bus.subscribe('match.>', {
  onEvent: (ev) => console.log(`#${ev.offset} ${ev.topic} ${JSON.stringify(ev.data)}`),
})

bus.emit(hits, { attacker: 'p1', target: 'p2', damage: 30 }, { key: 'p1' }) // the game loop's call: no promise
bus.emit(hits, { attacker: 'p3', target: 'p2', damage: 25 }, { key: 'p3' })
const receipt = await bus.publish('match.end', { winner: 'p1' }) // the network client's call, same receipt shape
console.log(`p2 has ${health.get('p2')} health; match.end is offset ${receipt.offset}`)

// a typed topic checks payloads before anything is dispatched
await bus
  .publish(hits, { attacker: 'p1', target: 'p2', damage: 1.5 })
  .catch((e) => console.log(`${e.name}: ${e.message}`))
const { published, delivered, dropped } = bus.stats()
console.log({ published, delivered, dropped })
await bus.close()
