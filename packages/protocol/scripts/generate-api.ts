// Writes docs/api/ (OpenAPI, AsyncAPI, JSON Schema) from the protocol's zod schemas:
// `npm run api -w @questlog/protocol` after a schema changes; a test fails while they differ.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { API_VERSION, apiDocuments, apiDocumentText } from '../src/api/index'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
for (const [name, doc] of Object.entries(apiDocuments(API_VERSION))) {
  writeFileSync(path.join(root, '../../docs/api', name), apiDocumentText(doc))
  console.log(`docs/api/${name}`)
}
