import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { apiDocuments, apiDocumentText } from './documents'
import { API_VERSION } from './index'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }

describe('docs/api', () => {
  it('carry the protocol package version', () => expect(API_VERSION).toBe(version))

  it('holds what the schemas generate now (run `npm run api -w @questlog/protocol` after a change)', () => {
    for (const [name, doc] of Object.entries(apiDocuments(version)))
      expect(readFileSync(path.join(root, '../../docs/api', name), 'utf8'), name).toBe(apiDocumentText(doc))
  })

  it('describes every protocol schema, the HTTP error body and the WebSocket frames', () => {
    const docs = apiDocuments(version) as Record<string, any>
    const defs = docs['json-schema.json'].$defs
    expect(Object.keys(defs)).toEqual(
      expect.arrayContaining(['envelopeSchema', 'publishEventSchema', 'clientFrameSchema']),
    )
    expect(docs['openapi.json'].components.schemas.Error.properties.error.required).toEqual([
      'code',
      'message',
    ])
    expect(docs['asyncapi.json'].channels.ws.messages.clientFrame.payload.oneOf.length).toBeGreaterThan(5)
  })
})
