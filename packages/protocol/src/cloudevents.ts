import { z } from 'zod'

/** CloudEvents 1.0 over HTTP, as the broker maps it onto events and back. */

/** The structured content mode's media type (one event). */
export const CLOUDEVENT_MEDIA_TYPE = 'application/cloudevents+json'
/** The batch content mode's media type (a JSON array of structured events). */
export const CLOUDEVENTS_BATCH_MEDIA_TYPE = 'application/cloudevents-batch+json'

/**
 * The header naming, comma-separated, the extensions whose header values are JSON text of a
 * number or a boolean: headers stay a string map, and a read as CloudEvents gives those
 * extensions back as JSON numbers and booleans. Written when a structured or batch CloudEvent
 * carries typed extensions; the binary mode's `ce-*` headers are strings and stay strings.
 */
export const CLOUDEVENTS_TYPED_HEADER = 'ql-ce-typed'

/**
 * CloudEvents context attributes: they map onto envelope fields (`dataschema` onto a header of
 * that name, `partitionkey` onto `key`), never onto extensions.
 */
export const CLOUDEVENTS_CONTEXT = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'datacontenttype',
  'dataschema',
  'time',
  'data',
  'data_base64',
  'partitionkey',
])

/** An extension name as CloudEvents has it: lowercase letters and digits, at most 20. */
export const isCloudEventsExtensionName = (name: string): boolean => /^[a-z0-9]{1,20}$/.test(name)

/** A stored event read as a structured CloudEvent (JSON format), as the broker writes it. */
export const cloudEventSchema = z
  .object({
    specversion: z.literal('1.0'),
    id: z.string(),
    source: z.string(),
    type: z.string(),
    /** The event time when the producer gave one, else the broker's commit time. */
    time: z.string(),
    datacontenttype: z.string(),
    dataschema: z.string().optional(),
    /** The event's partition key. */
    partitionkey: z.string().optional(),
    /** The payload when `datacontenttype` is JSON. */
    data: z.unknown().optional(),
    /** The payload bytes, base64, for any other content type. */
    data_base64: z.string().optional(),
  })
  // extensions: headers named as CloudEvents attributes, typed ones as numbers and booleans
  .catchall(z.union([z.string(), z.number(), z.boolean()]))

export type CloudEvent = z.infer<typeof cloudEventSchema>
