// Run with a broker started with QUESTLOG_OUTBOX_DATABASE_URL=$GAME_DATABASE_URL:
//   GAME_DATABASE_URL=postgres://… node --import tsx examples/outbox-reward.ts
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { createClient, publishInTransaction } from '@questlog/sdk-node'
import postgres from 'postgres'

const broker = process.env.QUESTLOG_URL ?? 'http://localhost:4600'
const token = process.env.QUESTLOG_KEY
const sql = postgres(process.env.GAME_DATABASE_URL ?? 'postgres://localhost/game', { onnotice: () => {} })

// once per database (idempotent): the outbox table the SDK writes and the broker relays
const migration = fileURLToPath(import.meta.resolve('@questlog/sdk-node/migrations/questlog-outbox.sql'))
await sql.unsafe(await readFile(migration, 'utf8'))
await sql`CREATE TABLE IF NOT EXISTS wallets (player text PRIMARY KEY, gold integer NOT NULL)`
await fetch(`${broker}/v1/topics`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
  body: JSON.stringify({ name: 'game.rewards', partitions: 4 }),
}) // 409 when it exists already: fine

// the gold and the event commit together, or neither does
await sql.begin(async (tx) => {
  await tx`INSERT INTO wallets VALUES ('ada', 100) ON CONFLICT (player) DO UPDATE SET gold = wallets.gold + 100`
  await publishInTransaction(tx, 'game.rewards', { player: 'ada', gold: 100 }, { key: 'ada' })
})
await sql
  .begin(async (tx) => {
    await tx`UPDATE wallets SET gold = gold + 1000000 WHERE player = 'ada'`
    await publishInTransaction(tx, 'game.rewards', { player: 'ada', gold: 1_000_000 }, { key: 'ada' })
    throw new Error('cheater detected') // rolled back: no gold, no event
  })
  .catch(() => {})

const bus = createClient({ brokers: [broker], token })
for await (const ev of bus.subscribe<{ player: string; gold: number }>('game.rewards', {
  from: 'earliest',
})) {
  console.log(`${ev.data.player} was awarded ${ev.data.gold} gold`)
  break
}
await bus.close()
await sql.end()
