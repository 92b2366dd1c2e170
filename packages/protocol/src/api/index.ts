export { buildAsyncApi } from './asyncapi'
export { apiDocuments, apiDocumentText } from './documents'
export { API_SCHEMAS, buildOpenApi, errorBodySchema, jsonSchema, readPageSchema } from './openapi'
export { buildJsonSchemas } from './schemas'

/** The version the documents carry: the protocol package's (a test keeps the two equal). */
export const API_VERSION = '0.1.0'
