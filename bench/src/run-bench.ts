import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BrokerProcess, buildBroker, nodeStartMs, startBroker, stopAll } from '@questlog/testkit'
import { BENCH_ADMIN_KEY } from './auth'
import { openDatabase } from './database'
import { machineInfo, versions } from './machine'
import { parseOptions } from './options'
import { natsSupportsSyncAlways, type PrivateServer, startNats, startRedis } from './proc/servers'
import { summarizeProfile } from './report/cpu-profile'
import { QL, renderMarkdown } from './report/markdown'
import { latencyCdf, throughputVsBatch } from './report/plots'
import type { LocalBusResults, Results } from './report/results'
import { measureCatchUp } from './scenarios/catch-up'
import { drive } from './scenarios/drive'
import { measureFanout } from './scenarios/fanout'
import { measureLatency } from './scenarios/latency'
import { measureLocalBus } from './scenarios/local-bus'
import { measureRequestReply } from './scenarios/request-reply'
import { idleUsage, loadedUsage, watchPeakRss } from './scenarios/resources'
import { measureThroughput } from './scenarios/throughput'
import { spread } from './stats'
import { natsFanout, questlogSseFanout, redisFanout } from './systems/fanout'
import { natsCatchUp, natsJetStream, natsLatency } from './systems/nats-js'
import { questlogHttp } from './systems/questlog-http'
import { questlogSseCatchUp, questlogSseLatency } from './systems/questlog-live'
import { questlogSdk, questlogSdkCatchUp, questlogSdkLatency, sdkEnqueueNs } from './systems/questlog-sdk'
import { createRawTable, dropRawTable, rawCopy, rawUnnest } from './systems/raw-pg'
import { redisCatchUp, redisLatency, redisStreams } from './systems/redis-streams'
import { natsRequestReply, questlogSdkRequestReply, redisRequestReply } from './systems/request-reply'
import type { ThroughputCase } from './systems/types'

const here = path.dirname(fileURLToPath(import.meta.url))
const o = parseOptions(process.argv.slice(2), path.resolve(here, '../../docs'))
const log = (s: string) => process.stderr.write(`${s}\n`)

async function main(): Promise<void> {
  const began = performance.now()
  // what the browser SDK costs an app that bundles it (its size test holds the budget)
  const { measureBundles } = await import('../../packages/sdk-browser/test/bundle-size')
  for (const b of await measureBundles())
    log(
      `browser SDK, ${b.case}: ${(b.gzipBytes / 1024).toFixed(1)} KiB gzipped, ${(b.minifiedBytes / 1024).toFixed(1)} KiB minified`,
    )
  buildBroker()
  const db = await openDatabase(process.env)
  stopDatabase = () => db.stop()
  log(`database: ${db.description}; ${db.version}`)
  const servers: PrivateServer[] = []
  let broker: BrokerProcess | undefined
  try {
    broker = await startBroker(db.url, { adminKey: BENCH_ADMIN_KEY })
    const url = () => broker!.url
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
    const natsRuns = [{ server: nats, name: 'NATS JetStream' }]
    if (natsAlways) natsRuns.push({ server: natsAlways, name: 'NATS JetStream sync always' })
    const redisRuns = [
      { server: redisAlways, name: 'Redis always' },
      { server: redisEverysec, name: 'Redis everysec' },
    ]

    const throughputTargets = [
      questlogHttp(url),
      questlogSdk(url),
      rawUnnest(() => db.url),
      rawCopy(() => db.url),
      ...natsRuns.map((n) => natsJetStream(() => n.server.port, n.server.settings, n.name)),
      ...redisRuns.map((x) => redisStreams(() => x.server.port, x.server.settings, x.name)),
    ]
    const cases: ThroughputCase[] = o.cases.map(([partitions, producers, eventBytes]) => ({
      partitions,
      producers,
      eventBytes,
      batch: 1000,
    }))

    log('producer throughput')
    const peak = watchPeakRss(broker.pid)
    const throughput = await measureThroughput(throughputTargets, cases, o)
    log('throughput vs batch size')
    const batchSweep = await measureThroughput(
      throughputTargets,
      o.batchSizes.map((batch) => ({ partitions: 8, producers: 8, eventBytes: 200, batch })),
      { ...o, seconds: Math.min(o.seconds, 2) },
    )
    const peakRss = peak.stop()

    log('end-to-end latency')
    const latency = await measureLatency(
      [
        questlogSseLatency(url),
        questlogSdkLatency(url),
        ...natsRuns.map((n) => natsLatency(() => n.server.port, n.server.settings, n.name)),
        ...redisRuns.map((x) => redisLatency(() => x.server.port, x.server.settings, x.name)),
      ],
      o,
    )

    log('consumer catch-up')
    const catchUp = await measureCatchUp(
      [
        questlogSdkCatchUp(url),
        questlogSseCatchUp(url),
        natsCatchUp(() => nats.port, 'NATS JetStream'),
        redisCatchUp(() => redisEverysec.port, 'Redis Streams'),
      ],
      o,
    )

    log(`fan-out to ${o.fanoutSubscribers} subscribers`)
    const fanout = await measureFanout(
      [
        questlogSseFanout(url),
        natsFanout(() => nats.port, 'NATS JetStream'),
        redisFanout(() => redisEverysec.port, 'Redis Streams'),
      ],
      o,
    )

    log('request/reply, 1 responder')
    const requestReply = await measureRequestReply(
      [
        questlogSdkRequestReply(url),
        natsRequestReply(() => nats.port, 'NATS'),
        redisRequestReply(() => redisEverysec.port, 'Redis'),
      ],
      o,
    )

    log('SDK publish() enqueue cost')
    const enqueue = spread(await sdkEnqueueNs(broker.url, 20_000, o.quick ? 3 : 7))
    log(`  ${enqueue.median.toFixed(0)} ns per call`)

    const localBus = await localBusRun(o.command)

    log('broker resources')
    const qlPeak =
      throughput.find((r) => r.system === QL && r.case.partitions === 1 && r.case.producers === 8)
        ?.eventsPerSecond.median ?? 10_000
    const idle = await idleUsage(broker.pid, o.quick ? 1 : 3)
    const load = await loadedUsage(broker.url, broker.pid, qlPeak / 2, o.quick ? 2 : 5)
    log(
      `  idle ${idle.cpuPercent.toFixed(1)}% ${idle.rssMb.toFixed(0)} MB; load ${load.cpuPercent.toFixed(0)}% ${load.rssMb.toFixed(0)} MB`,
    )

    log('cold start')
    const spawnToReady: number[] = []
    const bareStart: number[] = []
    for (let i = 0; i < (o.quick ? 1 : o.reps); i++) {
      await broker.stop()
      broker = await startBroker(db.url, { adminKey: BENCH_ADMIN_KEY })
      spawnToReady.push(broker.spawnToReadyMs)
      bareStart.push(nodeStartMs())
      log(
        `  spawn → ready ${broker.spawnToReadyMs.toFixed(0)} ms (Node alone ${bareStart.at(-1)!.toFixed(0)} ms)`,
      )
    }

    let profile: Results['profile']
    if (o.profile) {
      log('cpu profile')
      await broker.stop()
      const profDir = mkdtempSync(path.join(tmpdir(), 'questlog-bench-prof-'))
      broker = await startBroker(db.url, { adminKey: BENCH_ADMIN_KEY, cpuProfDir: profDir })
      const spawnToReadyMs = broker.spawnToReadyMs
      const opened = await questlogHttp(url).open({
        partitions: 1,
        producers: 8,
        eventBytes: 200,
        batch: 1000,
      })
      const r = await drive(opened.producers, 500, o.seconds * 1000)
      await opened.close()
      await broker.stop()
      broker = undefined
      profile = { ...summarizeProfile(profDir, 12, spawnToReadyMs), eventsPerSecond: r.eventsPerSecond }
      rmSync(profDir, { recursive: true, force: true })
    }

    const results: Results = {
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      command: o.command,
      quick: o.quick,
      reps: o.reps,
      seconds: o.seconds,
      wallSeconds: (performance.now() - began) / 1000,
      machine: machineInfo(),
      versions: versions(db.version),
      database: { description: db.description, settings: db.settings },
      peers: [
        `Questlog: the broker in its own Node process with its default configuration, on the database above (${db.description}).`,
        `raw PG: the same PostgreSQL database, table \`bench_raw_events\` of the log's shape, one \`postgres\` connection per producer.`,
        `NATS: a private nats-server started by the bench on a free 127.0.0.1 port (not the machine's :4222): ${nats.settings}.` +
          (syncAlways
            ? ' Also run with `sync_interval: always`.'
            : ` This nats-server does not accept \`sync_interval: always\` (added in 2.10), so JetStream acks here are not fsynced per message: a weaker guarantee than Questlog's commit.`),
        `Redis: two private redis-server instances started by the bench on free 127.0.0.1 ports (not the machine's :6379), AOF on: ${redisAlways.settings}; ${redisEverysec.settings}. Catch-up, fan-out and request/reply use the everysec instance.`,
      ],
      natsSyncAlwaysSupported: syncAlways,
      throughput,
      batchSweep,
      latency,
      catchUp,
      fanout,
      requestReply,
      resources: { idle, load, targetRate: qlPeak / 2, peakRssDuringThroughputMb: peakRss },
      coldStart: { spawnToReadyMs: spread(spawnToReady), nodeAloneMs: spread(bareStart) },
      sdkEnqueueNs: enqueue,
      localBus,
      ...(profile ? { profile } : {}),
      missing:
        o.catchUpEvents < 1_000_000
          ? [
              `Catch-up reads ${o.catchUpEvents.toLocaleString('en')} stored events, not the 1M the full run reads (a --quick run).`,
            ]
          : [],
    }
    writeReport(results)
  } finally {
    await broker?.stop()
    for (const s of servers) await s.stop()
    await dropRawTable(db.url)
    await stopAll()
    await db.stop()
  }
}

function readAnalysis(): string {
  try {
    return readFileSync(path.resolve(here, '../analysis.md'), 'utf8')
  } catch {
    return '' // no hand-written reading yet
  }
}

/** The in-process bus against EventEmitter, eventemitter3 and mitt: seconds, no broker. */
async function localBusRun(command: string): Promise<LocalBusResults> {
  const run = { reps: o.quick ? 3 : 5, events: o.quick ? 50_000 : 100_000, turn: 1000 }
  const loadAverage = loadavg()[0]!
  log(
    `in-process bus: ${run.events.toLocaleString('en')} events in turns of ${run.turn}, ${run.reps} repetitions`,
  )
  const rows = await measureLocalBus({ ...run, listenerCounts: [1, 10], warmups: 1 })
  for (const r of rows)
    log(
      `  ${r.system}, ${r.listeners} listener(s): ${r.enqueueNs.median.toFixed(0)} ns/op, ${r.eventsPerSecond.median.toFixed(0)} events/s`,
    )
  return { date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), command, ...run, loadAverage, rows }
}

/** Measures the in-process bus alone and renders it into the saved results (the rest is left as measured). */
async function localBusOnly(): Promise<void> {
  const file = path.join(o.docsDir, 'bench', 'results.json')
  const saved = JSON.parse(readFileSync(file, 'utf8')) as Results
  saved.localBus = await localBusRun(`npm run bench -- --local-bus-only${o.quick ? ' --quick' : ''}`)
  writeFileSync(file, `${JSON.stringify(saved)}\n`)
  writeOutputs(saved)
  log(`rendered ${path.join(o.docsDir, 'BENCHMARKS.md')} with the in-process bus measured now`)
}

/** Renders BENCHMARKS.md and the plots again from the saved results, without measuring. */
function renderOnly(): void {
  const file = path.join(o.docsDir, 'bench', 'results.json')
  const saved = JSON.parse(readFileSync(file, 'utf8')) as Results
  writeOutputs(saved)
  log(`rendered ${path.join(o.docsDir, 'BENCHMARKS.md')} and the plots from ${file}`)
}

function writeReport(r: Results): void {
  const out = path.join(o.docsDir, 'bench')
  mkdirSync(out, { recursive: true })
  writeFileSync(path.join(out, 'results.json'), `${JSON.stringify(r)}\n`)
  writeOutputs(r)
  log(`wrote ${path.join(o.docsDir, 'BENCHMARKS.md')} and plots in ${out} (${Math.round(r.wallSeconds)} s)`)
}

function writeOutputs(r: Results): void {
  const out = path.join(o.docsDir, 'bench')
  if (r.batchSweep.length > 0)
    writeFileSync(path.join(out, 'throughput-vs-batch.svg'), throughputVsBatch(r.batchSweep))
  if (r.latency.length > 0) writeFileSync(path.join(out, 'latency-cdf.svg'), latencyCdf(r.latency))
  writeFileSync(path.join(o.docsDir, 'BENCHMARKS.md'), renderMarkdown(r, readAnalysis()))
}

/** Stops the database too when the run is interrupted; servers and the broker are stopped by `stopAll`. */
let stopDatabase: () => Promise<void> = async () => {}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping every process this run started`)
    void stopAll()
      .then(() => stopDatabase())
      .finally(() => process.exit(130))
  })
}

if (o.renderOnly) renderOnly()
else if (o.localBusOnly)
  localBusOnly().catch((e) => {
    log(String(e?.stack ?? e))
    process.exit(1)
  })
else
  main().catch(async (e) => {
    log(String(e?.stack ?? e))
    await stopAll()
    await stopDatabase()
    process.exit(1)
  })
