// Runs one broker with its default configuration (env as `npm run broker` reads it) and reports when it listens.
import { configFromEnv, createBroker } from '@questlog/broker'

const t0 = performance.now()
const broker = await createBroker(configFromEnv())
process.stdout.write(`READY ${broker.url} ${(performance.now() - t0).toFixed(1)}\n`)

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    broker.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
}
