import type { PublishEvent } from '@questlog/protocol'

/**
 * A batch as columns (see `publishColumnsHeaderSchema`): the payloads as one
 * JSON array, and the header's columns, serialized once as the batch forms.
 */
export interface BatchColumns {
  /** The header after its per-send fields (id, topic, epoch): `,"producer":…,"ids":[…]`. */
  readonly columns: string
  /** The payloads, one JSON array. */
  readonly payloads: string
}

/**
 * The batch in columns, when every event is a payload with its id, a producer
 * sequence number of one producer, and maybe a key; else undefined (the events
 * then go in a JSON publish frame).
 */
export function columnsOf(events: readonly PublishEvent[]): BatchColumns | undefined {
  const n = events.length
  const producer = events[0]?.producer
  const datas: unknown[] = new Array(n)
  const ids: string[] = new Array(n)
  const seqs: number[] | undefined = producer === undefined ? undefined : new Array(n)
  let keys: Array<string | null> | undefined
  for (let i = 0; i < n; i++) {
    const e = events[i]!
    if (
      e.id === undefined ||
      e.producer !== producer ||
      e.type !== undefined ||
      e.partition !== undefined ||
      e.dedupeKey !== undefined ||
      e.headers !== undefined ||
      e.source !== undefined ||
      e.contentType !== undefined ||
      e.dataBase64 !== undefined ||
      e.schemaVersion !== undefined ||
      e.time !== undefined ||
      !isPayload(e.data)
    ) {
      return undefined
    }
    datas[i] = e.data
    ids[i] = e.id
    if (seqs) seqs[i] = e.seq!
    if (e.key !== undefined) {
      keys ??= new Array<string | null>(n).fill(null)
      keys[i] = e.key
    }
  }
  let payloads: string
  try {
    payloads = JSON.stringify(datas)
  } catch {
    // not serializable (a cycle, a BigInt): a publish frame reports the error
    return undefined
  }
  const producerPart =
    producer === undefined ? '' : `,"producer":${JSON.stringify(producer)},"seqs":${JSON.stringify(seqs)}`
  const keysPart = keys === undefined ? '' : `,"keys":${JSON.stringify(keys)}`
  return { columns: `${producerPart},"ids":${JSON.stringify(ids)}${keysPart}`, payloads }
}

/** A value that is its own JSON element in an array (in an object, `undefined` or a function would vanish). */
function isPayload(v: unknown): boolean {
  return v !== undefined && typeof v !== 'function' && typeof v !== 'symbol'
}

const utf8 = new TextEncoder()

/** The binary message of a batch in columns. */
export function columnsFrame(id: number, topic: string, epoch: number, c: BatchColumns): Uint8Array {
  return utf8.encode(
    `{"op":"publish","id":${id},"topic":${JSON.stringify(topic)},"epoch":${epoch},"receipts":"runs"${c.columns}}\n${c.payloads}`,
  )
}
