import type { ThroughputRow } from '../scenarios/throughput'
import type { ThroughputCase } from '../systems/types'
import { ms, rate, ratio, si, table } from './format'
import { localBusSection } from './local-bus'
import type { Results } from './results'

export const QL = 'Questlog HTTP'
const SDK = 'Questlog SDK'
const RAW = ['raw PG unnest', 'raw PG COPY']

const caseKey = (c: ThroughputCase) => `${c.partitions}/${c.producers}/${c.eventBytes}/${c.batch}`
const caseName = (c: ThroughputCase) =>
  `${c.partitions} part., ${c.producers} prod., ${c.eventBytes === 1024 ? '1 KB' : `${c.eventBytes} B`}`

function byCase(rows: ThroughputRow[]): Map<string, ThroughputRow[]> {
  const m = new Map<string, ThroughputRow[]>()
  for (const r of rows) m.set(caseKey(r.case), [...(m.get(caseKey(r.case)) ?? []), r])
  return m
}

const med = (rows: ThroughputRow[], system: string) =>
  rows.find((r) => r.system === system)?.eventsPerSecond.median ?? Number.NaN
/** The raw limit of a cell: the faster of unnest and COPY. */
export const rawLimit = (rows: ThroughputRow[]) =>
  Math.max(...RAW.map((s) => med(rows, s)).filter(Number.isFinite))

export function throughputTable(rows: ThroughputRow[], label = (c: ThroughputCase) => caseName(c)): string {
  const systems = [...new Set(rows.map((r) => r.system))]
  const peers = systems.filter((s) => s !== QL && s !== SDK && !RAW.includes(s))
  const head = [
    'cell',
    ...systems,
    'Questlog HTTP / raw',
    'SDK / raw',
    ...peers.map((p) => `Questlog HTTP / ${p}`),
  ]
  const out: string[][] = []
  for (const cell of byCase(rows).values()) {
    const ql = med(cell, QL)
    out.push([
      label(cell[0]!.case),
      ...systems.map((s) => rate(cell.find((r) => r.system === s)!.eventsPerSecond)),
      ratio(ql, rawLimit(cell)),
      ratio(med(cell, SDK), rawLimit(cell)),
      ...peers.map((p) => ratio(ql, med(cell, p))),
    ])
  }
  return table(head, out)
}

/** Questlog against the raw limit for the two cells issue 2 names, with the ratios. */
function headline(r: Results): string {
  const cells = byCase(r.throughput)
  const rows: string[][] = []
  for (const p of [1, 8]) {
    const cell = cells.get(`${p}/8/200/1000`)
    if (!cell) continue
    const one = (system: string) => cell.find((c) => c.system === system)?.eventsPerSecond
    const show = (system: string) => {
      const x = one(system)
      return x ? rate(x) : 'n/a'
    }
    rows.push([
      `${p} partition${p > 1 ? 's' : ''}`,
      show(QL),
      show(SDK),
      show('raw PG unnest'),
      show('raw PG COPY'),
      ratio(med(cell, QL), rawLimit(cell)),
      ratio(med(cell, SDK), rawLimit(cell)),
    ])
  }
  return table(
    [
      'topic',
      'Questlog HTTP events/s',
      'Questlog SDK events/s',
      'raw PG unnest events/s',
      'raw PG COPY events/s',
      'HTTP / raw',
      'SDK / raw',
    ],
    rows,
  )
}

function goalLine(name: string, measured: string, goal: string, met: boolean | undefined): string[] {
  return [name, measured, goal, met === undefined ? 'not measured' : met ? 'met' : 'not met']
}

function goals(r: Results): string {
  const cells = byCase(r.throughput)
  const rows: string[][] = []
  for (const p of [1, 8]) {
    const cell = cells.get(`${p}/8/200/1000`)
    if (!cell) continue
    const q = med(cell, QL) / rawLimit(cell)
    rows.push(
      goalLine(
        `Questlog HTTP / raw PG, ${p} partition(s), 8 producers (issue 2)`,
        ratio(q, 1),
        '≥ 50%',
        q >= 0.5,
      ),
    )
    rows.push(
      goalLine(
        `Questlog HTTP / raw PG, ${p} partition(s), 8 producers (issue 5)`,
        ratio(q, 1),
        '≥ 80%',
        q >= 0.8,
      ),
    )
    const sdk = med(cell, SDK) / rawLimit(cell)
    if (Number.isFinite(sdk)) {
      rows.push(
        goalLine(
          `Questlog SDK / raw PG, ${p} partition(s), 8 producers (issue 3)`,
          ratio(sdk, 1),
          '≥ 60%',
          sdk >= 0.6,
        ),
      )
      rows.push(
        goalLine(
          `Questlog SDK / raw PG, ${p} partition(s), 8 producers (issue 5)`,
          ratio(sdk, 1),
          '≥ 80%',
          sdk >= 0.8,
        ),
      )
    }
    for (const peer of [...new Set(cell.map((c) => c.system))].filter(
      (s) => s !== QL && s !== SDK && !RAW.includes(s),
    )) {
      const x = med(cell, QL) / med(cell, peer)
      const durability = cell.find((c) => c.system === peer)?.durability ?? ''
      rows.push(
        goalLine(
          `Questlog HTTP / ${peer} (${durability}), ${p} partition(s), 8 producers`,
          ratio(x, 1),
          '> 100%',
          x > 1,
        ),
      )
    }
  }
  for (const lat of r.latency.filter((l) => l.system.startsWith('Questlog') && l.rate === 5000)) {
    const delivered = `${(lat.deliveredMin * 100).toFixed(1)}% delivered`
    if (lat.system === SDK)
      rows.push(
        goalLine(
          `p99 publish → subscriber callback at 5k/s (${lat.system}, issue 3)`,
          `${lat.p99.median.toFixed(1)} ms, ${delivered}`,
          '< 10 ms, all delivered',
          lat.p99.median < 10 && lat.deliveredMin === 1,
        ),
      )
    rows.push(
      goalLine(
        `p99 publish → deliver at 5k/s (${lat.system}, issue 5)`,
        `${lat.p99.median.toFixed(1)} ms, ${delivered}`,
        '< 5 ms, all delivered',
        lat.p99.median < 5 && lat.deliveredMin === 1,
      ),
    )
  }
  const res = r.resources
  rows.push(
    goalLine(
      'broker RSS at 50% of peak load',
      res ? `${res.load.rssMb.toFixed(0)} MB` : 'n/a',
      '< 150 MB',
      res && res.load.rssMb < 150,
    ),
  )
  const cs = r.coldStart
  rows.push(
    goalLine(
      'cold start to ready (spawn → /health/ready)',
      cs ? `${cs.spawnToReadyMs.median.toFixed(0)} ms` : 'n/a',
      '< 1 s',
      cs && cs.spawnToReadyMs.median < 1000,
    ),
  )
  const enq = r.sdkEnqueueNs
  rows.push(
    goalLine(
      'SDK publish() enqueue cost',
      enq ? `${enq.median.toFixed(0)} ns` : 'n/a',
      '< 1 µs',
      enq && enq.median < 1000,
    ),
  )
  return table(['goal', 'measured (median)', 'target', 'verdict'], rows)
}

/** BENCHMARKS.md from one run's results; `analysis` is the hand-written reading of the profile. */
export function renderMarkdown(r: Results, analysis: string): string {
  const s: string[] = []
  s.push('# Benchmarks', '')
  s.push(
    `Latest ${r.quick ? 'smoke (`--quick`)' : 'full'} run: ${r.date}, ${Math.round(r.wallSeconds)} s wall time. Reproduce with:`,
    '',
    '```sh',
    r.command,
    '```',
    '',
    'Every system runs in the same run, on the same machine, on 127.0.0.1; for each cell the systems',
    `alternate inside each of ${r.reps} repetition(s) (${r.seconds} s measured after a warm-up), and tables show the`,
    'median with the min–max in brackets. **The machine is shared with other work (2 cores), so compare the',
    'ratios measured in the same run rather than absolute figures.** `--quick` is a smoke run (one repetition,',
    'short cells, fewer scenarios).',
    '',
  )
  s.push(
    '## Headline: 200 B events, batches of 1000, 8 producers (issue 2)',
    '',
    headline(r),
    '',
    'Ratios divide by the faster raw method of the same cell, measured in the same run.',
    '',
  )
  s.push('## Goals', '', goals(r), '')
  s.push('## Producer throughput (events/s, durable acks)', '')
  s.push(
    'Closed-loop producers: each sends a batch (one HTTP request of `{events:[…]}`, one Redis pipeline of',
    '`XADD`s, or that many JetStream publishes in flight), waits for the acks, and sends the next. Batches of',
    '1000 events; "part." is partitions (topic partitions, Redis stream keys, or JetStream streams, one subject',
    "each). Raw PG is the physical limit: the same events straight into a table of the log's shape, no broker,",
    'offsets handed out by the client (no per-partition counter row), one connection per producer. Questlog',
    'SDK is the Node SDK over WebSocket with its defaults (one client per producer, `publish()` per event,',
    "every event numbered in its client's sequence for exactly-once storage, batches of up to 1000, no linger",
    '(the default), up to 4 batches in flight per client).',
    '',
    throughputTable(r.throughput),
    '',
  )
  if (r.batchSweep.length > 0) {
    s.push(
      '### Throughput against batch size (8 partitions, 8 producers, 200 B)',
      '',
      throughputTable(r.batchSweep, (c) => `batch ${c.batch}`),
      '',
      '![throughput vs batch size](bench/throughput-vs-batch.svg)',
      '',
    )
  }
  if (r.latency.length > 0) {
    s.push(
      '## End-to-end latency, publish → consumer (ms, 200 B events, 1 partition)',
      '',
      'A publisher sends at a fixed rate (every millisecond, the events due by then, as one HTTP batch, one',
      'Redis pipeline, that many JetStream publishes or SDK `publish()` calls); a live consumer in the same process',
      '(Questlog: the SSE stream `GET /v1/topics/{t}/stream?from=latest`, or an SDK subscription; JetStream: an',
      "ordered consumer; Redis: blocking `XREAD`) records now − the event's send time. This includes the publish",
      'round trip to a durable commit. Each run has a Node process of its own, started for it (not the harness,',
      'whose heap has grown through the throughput runs), and measures after a 1 s warm-up at the same rate.',
      '',
      table(
        ['system', 'rate/s', 'p50', 'p99', 'p99.9', 'max', 'delivered (worst rep.)'],
        r.latency.map((l) => [
          l.system,
          si(l.rate),
          ms(l.p50),
          ms(l.p99),
          ms(l.p999),
          ms(l.max, 1),
          `${(l.deliveredMin * 100).toFixed(1)}%`,
        ]),
      ),
      '',
      '![latency CDF](bench/latency-cdf.svg)',
      '',
    )
  }
  if (r.catchUp.length > 0) {
    s.push(
      `## Consumer catch-up (events/s reading ${si(r.catchUp[0]!.events)} stored 200 B events)`,
      '',
      table(
        ['system', 'events/s'],
        r.catchUp.map((c) => [c.system, rate(c.eventsPerSecond)]),
      ),
      '',
    )
  }
  if (r.fanout && r.fanout.length > 0) {
    const f = r.fanout[0]!
    s.push(
      `## Fan-out: one event to ${f.subscribers} live subscribers (ms, 200 B events, 1 partition)`,
      '',
      `${f.events} events published one at a time at ${f.rate}/s, each waited on for its durable ack (Questlog: one`,
      'HTTP batch of one event; JetStream: `js.publish()` with its PubAck; Redis: one `XADD`), to',
      `${f.subscribers} live subscribers, each on its own connection in the same process (Questlog: ${f.subscribers} SSE streams`,
      '`GET /v1/topics/{t}/stream?from=latest`, chosen over 100 SDK clients; JetStream: ordered consumers;',
      "Redis: blocking `XREAD` loops). Every subscriber records now − the event's send time; percentiles",
      `are over all ${si(f.events * f.subscribers)} deliveries of a repetition, then median (min–max) over repetitions.`,
      'Subscribers are live (each has received a probe event) before the first measured event.',
      '',
      table(
        ['system', 'publish → subscribers', 'p50', 'p99', 'max', 'delivered (worst rep.)'],
        r.fanout.map((x) => [
          x.system,
          x.via,
          ms(x.p50),
          ms(x.p99),
          ms(x.max, 1),
          `${(x.deliveredMin * 100).toFixed(1)}%`,
        ]),
      ),
      '',
    )
  }
  if (r.requestReply && r.requestReply.length > 0) {
    s.push(
      '## Request/reply, 1 responder (200 B request, echoed back)',
      '',
      'Closed-loop requesters, each on its own connection with one request outstanding: send, wait for the',
      'reply, send again. One responder echoes the request. Questlog: the Node SDK (`client.respond(subject,',
      'handler)`, `client.request(subject, data, { timeoutMs })`) over WebSocket; NATS: core request/reply',
      '(`nc.request()`, a subscription answering with `m.respond()`), no JetStream; Redis has no request/reply,',
      'so it is done with lists: the requester pipelines `RPUSH` of the request (naming its reply key) and',
      '`BLPOP` of its reply key, the responder loops `BLPOP` then `RPUSH`. None of them stores the exchange',
      'durably (Redis appends the list commands to its everysec AOF). Round trips per second and milliseconds',
      'per round trip.',
      '',
      table(
        ['system', 'via', 'requesters', 'round trips/s', 'p50', 'p99'],
        r.requestReply.map((x) => [
          x.system,
          x.via,
          String(x.concurrency),
          rate(x.roundTripsPerSecond),
          ms(x.p50),
          ms(x.p99),
        ]),
      ),
      '',
    )
  }
  if (r.resources || r.coldStart) {
    s.push('## Broker resources and cold start', '')
    const rows: string[][] = []
    if (r.resources) {
      const { idle, load } = r.resources
      rows.push(['idle', `${idle.cpuPercent.toFixed(1)}% of a core`, `${idle.rssMb.toFixed(0)} MB`])
      rows.push([
        `publishing ${si(load.eventsPerSecond)} events/s (50% of peak, 1 partition)`,
        `${load.cpuPercent.toFixed(0)}% of a core`,
        `${load.rssMb.toFixed(0)} MB (peak)`,
      ])
      rows.push([
        'peak over the throughput runs',
        '',
        `${r.resources.peakRssDuringThroughputMb.toFixed(0)} MB`,
      ])
      const usPerEvent = (load.cpuPercent / 100 / load.eventsPerSecond) * 1e6
      rows.push(['broker CPU time per published event, at that load', `${usPerEvent.toFixed(1)} µs`, ''])
    }
    if (rows.length > 0) s.push(table(['broker state', 'CPU', 'RSS'], rows), '')
    if (r.coldStart) {
      s.push(
        `Cold start on an existing database: spawn of the broker's bundle (\`dist/main.js\` with the Node flags of`,
        `\`npm run broker\`, as that script runs it after building it) → \`/health/ready\` answering 200: ${ms(r.coldStart.spawnToReadyMs, 0)} ms.`,
        `For scale, Node starting and running nothing takes ${ms(r.coldStart.nodeAloneMs, 0)} ms on this machine in the same run.`,
        '',
      )
    }
  }
  if (r.sdkEnqueueNs) {
    s.push(
      '## SDK `publish()` enqueue cost',
      '',
      `${ms(r.sdkEnqueueNs, 0)} ns per call (median and min–max of ${r.sdkEnqueueNs.n} loops of 20,000 calls that never`,
      'yield, so no network work runs inside them; each loop is then awaited to its receipts).',
      '',
    )
  }
  s.push(...localBusSection(r))
  if (r.profile) {
    const p = r.profile
    s.push(
      '## Where the broker spends its CPU (`--cpu-prof`, 1 partition, 8 producers, batches of 1000)',
      '',
      `Profiled in a separate, unmeasured pass at ${si(p.eventsPerSecond)} events/s (profiling slows it): ${Math.round(p.totalMs)} ms of busy CPU on the broker's main thread after it was ready (start-up and idle time left out).`,
      '',
      table(
        ['area', 'self time'],
        p.byArea.slice(0, 10).map((a) => [a.area, `${a.percent.toFixed(1)}%`]),
      ),
      '',
      table(
        ['function', 'where', 'self time'],
        p.top.map((t) => [`\`${t.fn}\``, `\`${t.where}\``, `${t.percent.toFixed(1)}%`]),
      ),
      '',
    )
  }
  if (analysis.trim()) s.push(analysis.trim(), '')
  if (r.missing.length > 0) s.push('## Not measured yet', '', ...r.missing.map((m) => `- ${m}`), '')
  s.push('## How it was run', '')
  s.push(
    table(
      ['', ''],
      [
        ['date', r.date],
        ['machine', `${r.machine.nproc} CPUs (\`nproc\`), ${r.machine.memoryGb} GB memory, ${r.machine.cpu}`],
        ['OS', r.machine.os],
        ['Node', r.machine.node],
        ['database', r.database.description],
        [
          'PostgreSQL settings',
          Object.entries(r.database.settings)
            .map(([k, v]) => `${k}=${v}`)
            .join(', '),
        ],
        ...Object.entries(r.versions).map(([k, v]) => [k, v]),
      ],
    ),
    '',
    ...r.peers.map((p) => `- ${p}`),
    '',
  )
  return `${s.join('\n')}\n`
}
