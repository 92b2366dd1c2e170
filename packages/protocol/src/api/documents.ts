import { buildAsyncApi } from './asyncapi'
import { buildOpenApi } from './openapi'
import { buildJsonSchemas } from './schemas'

/** The files under docs/api/, by name, as generated from the schemas of this version. */
export function apiDocuments(version: string): Record<string, unknown> {
  return {
    'openapi.json': buildOpenApi(version),
    'asyncapi.json': buildAsyncApi(version),
    'json-schema.json': {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'Questlog protocol schemas',
      $defs: buildJsonSchemas(),
    },
  }
}

export const apiDocumentText = (doc: unknown) => `${JSON.stringify(doc, null, 2)}\n`
