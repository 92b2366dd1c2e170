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
