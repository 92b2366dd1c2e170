// Loads the broker's own entry point (the one `npm run broker` runs), named by the environment, so
// this process's command line names the bench and not the broker's file.
import { pathToFileURL } from 'node:url'

const entry = process.env.QUESTLOG_BENCH_BROKER_ENTRY
if (!entry) throw new Error('QUESTLOG_BENCH_BROKER_ENTRY is not set')
await import(pathToFileURL(entry).href)
