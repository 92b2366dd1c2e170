// Run with the broker up (`npm run broker`): node --import tsx --conditions=@questlog/source examples/node-quickstart.ts
import { createClient, defineTopic } from '@questlog/sdk-node'
import { z } from 'zod'

const broker = process.env.QUESTLOG_URL ?? 'http://localhost:4600'
const token = process.env.QUESTLOG_KEY // the admin key printed at the broker's first start
await fetch(`${broker}/v1/topics`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
  body: JSON.stringify({ name: 'game.kills', partitions: 4 }),
}) // 409 when it exists already: fine

const bus = createClient({ brokers: [broker], token })
const kills = defineTopic('game.kills', z.object({ killer: z.string(), victim: z.string() }))

const receipt = await bus.publish(kills, { killer: 'player-7', victim: 'player-3' }, { key: 'player-7' })
console.log(`stored at partition ${receipt.partition}, offset ${receipt.offset}`)

for await (const ev of bus.subscribe(kills, { group: 'quickstart', from: 'earliest' })) {
  console.log(`${ev.data.killer} took down ${ev.data.victim}`)
  await ev.ack()
  break
}
await bus.close()
