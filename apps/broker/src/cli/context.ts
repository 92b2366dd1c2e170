import { InvalidArgumentError } from 'commander'
import type { HttpClient } from './client'
import type { Output } from './output'

export interface Context {
  http: HttpClient
  out: Output
}

export function int(value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('not a whole number')
  return n
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}
