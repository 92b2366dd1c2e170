import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openDatabase } from './database'
import { parseOptions } from './options'
import { startBroker } from './proc/broker-process'
import { stopAll } from './proc/child'
import { natsSupportsSyncAlways, type PrivateServer, startNats, startRedis } from './proc/servers'
import { measureThroughput } from './scenarios/throughput'
import { natsJetStream } from './systems/nats-js'
import { questlogHttp } from './systems/questlog-http'
import { createRawTable, dropRawTable, rawCopy, rawUnnest } from './systems/raw-pg'
import { redisStreams } from './systems/redis-streams'

const docsDir = fileURLToPath(new URL('../../docs', import.meta.url))
const o = parseOptions(process.argv.slice(2), path.resolve(docsDir))
const log = (s: string) => process.stderr.write(`${s}\n`)

async function main() {
  const db = await openDatabase(process.env)
  log(`database: ${db.description}; ${db.version}`)
  const servers: PrivateServer[] = []
  try {
    const broker = await startBroker(db.url)
    log(`broker: ${broker.url} (pid ${broker.pid})`)
    await createRawTable(db.url)
    const syncAlways = natsSupportsSyncAlways()
    const nats = await startNats(false)
    servers.push(nats)
    const natsAlways = syncAlways ? await startNats(true) : undefined
    if (natsAlways) servers.push(natsAlways)
    const redisAlways = await startRedis('always')
    const redisEverysec = await startRedis('everysec')
    servers.push(redisAlways, redisEverysec)
    const targets = [
      questlogHttp(() => broker.url),
      rawUnnest(() => db.url),
      rawCopy(() => db.url),
      natsJetStream(() => nats.port, nats.settings, 'NATS JetStream'),
      ...(natsAlways
        ? [natsJetStream(() => natsAlways.port, natsAlways.settings, 'NATS JetStream sync always')]
        : []),
      redisStreams(() => redisAlways.port, redisAlways.settings, 'Redis always'),
      redisStreams(() => redisEverysec.port, redisEverysec.settings, 'Redis everysec'),
    ]
    const rows = await measureThroughput(
      targets,
      o.cases.map(([partitions, producers, eventBytes]) => ({
        partitions,
        producers,
        eventBytes,
        batch: 1000,
      })),
      o,
    )
    console.log(JSON.stringify(rows, null, 1))
    await broker.stop()
    await dropRawTable(db.url)
  } finally {
    for (const s of servers) await s.stop()
    await stopAll()
    await db.stop()
  }
}

main().catch(async (e) => {
  log(String(e?.stack ?? e))
  await stopAll()
  process.exit(1)
})
