import { InvalidArgumentError } from 'commander'
import { HttpClient } from './client'
import { createOutput, type Output } from './output'

export interface Context {
  http: HttpClient
  out: Output
}

export interface GlobalOptions {
  broker?: string
  apiKey?: string
  json?: boolean
}

/** The broker and key from the flags, else from QUESTLOG_URL and QUESTLOG_KEY. */
export function createContext(o: GlobalOptions): Context {
  const broker = o.broker ?? process.env.QUESTLOG_URL ?? 'http://127.0.0.1:4600'
  const key = o.apiKey ?? (process.env.QUESTLOG_KEY || undefined)
  return { http: new HttpClient({ broker, key }), out: createOutput(Boolean(o.json)) }
}

export function int(value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('not a whole number')
  return n
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}
