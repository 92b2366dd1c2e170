// Run with the broker up (`npm run broker`): node --import tsx examples/leaderboard-table.ts
import { createClient, defineTopic } from '@questlog/sdk-node'
import { z } from 'zod'

const broker = process.env.QUESTLOG_URL ?? 'http://localhost:4600'
const token = process.env.QUESTLOG_KEY // the admin key printed at the broker's first start
await fetch(`${broker}/v1/topics`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
  // compacted: the log keeps the latest score of each player; a null removes the player
  body: JSON.stringify({ name: 'leaderboard', cleanup: 'compact', partitions: 4 }),
}) // 409 when it exists already: fine

const bus = createClient({ brokers: [broker], token })
const scores = defineTopic('leaderboard', z.object({ player: z.string(), score: z.number() }).nullable())
for (const [player, score] of [
  ['ada', 120],
  ['bo', 90],
  ['ada', 150],
  ['cy', 60],
] as const) {
  await bus.publish(scores, { player, score }, { key: player })
}
await bus.publish(scores, null, { key: 'cy' }) // cy leaves the board

const board = bus.table(scores)
await board.ready
const top = [...board.values()].flatMap((s) => (s ? [s] : [])).sort((a, b) => b.score - a.score)
console.log(top.map((s) => `${s.player} ${s.score}`).join(', '))

board.on('change', (c) => console.log(`${c.key} ${c.type === 'set' ? `now ${c.value?.score}` : 'left'}`))
await bus.publish(scores, { player: 'bo', score: 200 }, { key: 'bo' })
await new Promise((resolve) => board.on('change', resolve))
board.close()
await bus.close()
