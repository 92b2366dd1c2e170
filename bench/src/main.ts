import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openDatabase } from './database'
import { parseOptions } from './options'
import { startBroker } from './proc/broker-process'
import { stopAll } from './proc/child'
import { measureThroughput } from './scenarios/throughput'
import { questlogHttp } from './systems/questlog-http'
import { createRawTable, dropRawTable, rawCopy, rawUnnest } from './systems/raw-pg'

const docsDir = fileURLToPath(new URL('../../docs', import.meta.url))
const o = parseOptions(process.argv.slice(2), path.resolve(docsDir))
const log = (s: string) => process.stderr.write(`${s}\n`)

async function main() {
  const db = await openDatabase(process.env)
  log(`database: ${db.description}; ${db.version}`)
  try {
    const broker = await startBroker(db.url)
    log(`broker: ${broker.url} (pid ${broker.pid})`)
    await createRawTable(db.url)
    const targets = [questlogHttp(() => broker.url), rawUnnest(() => db.url), rawCopy(() => db.url)]
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
    await stopAll()
    await db.stop()
  }
}

main().catch(async (e) => {
  log(String(e?.stack ?? e))
  await stopAll()
  process.exit(1)
})
