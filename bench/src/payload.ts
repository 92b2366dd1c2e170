/**
 * A JSON event of exactly `bytes` bytes when serialized, shaped like a game
 * event. `sentAt` (ms, performance clock) lets a consumer measure latency.
 */
export function eventJson(bytes: number, seq: number, sentAt = 0): string {
  const head = `{"type":"game.kill","match":"m-${seq % 1000}","player":"p-${seq}","sentAt":${sentAt.toFixed(3)},"pad":"`
  const tail = '"}'
  const pad = bytes - head.length - tail.length
  if (pad < 0) throw new Error(`an event of ${bytes} bytes is too small for its fields`)
  return `${head}${'x'.repeat(pad)}${tail}`
}

/** Reads `sentAt` back from an event's JSON text without parsing the whole of it. */
export function sentAtOf(json: string): number {
  const i = json.indexOf('"sentAt":')
  if (i < 0) return Number.NaN
  return Number.parseFloat(json.slice(i + 9, json.indexOf(',', i)))
}
