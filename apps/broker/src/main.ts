import { createBroker } from './broker'
import { configFromEnv } from './config'

let config: ReturnType<typeof configFromEnv>
try {
  config = configFromEnv()
} catch (e) {
  console.error((e as Error).message)
  process.exit(2)
}

let broker: Awaited<ReturnType<typeof createBroker>>
try {
  broker = await createBroker(config)
} catch (e) {
  console.error(`the broker could not start: ${(e as Error).message}`)
  process.exit(1)
}
let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    setTimeout(() => process.exit(1), 20_000).unref()
    broker.stop().then(
      () => process.exit(0),
      (e) => {
        console.error(e)
        process.exit(1)
      },
    )
  })
}
