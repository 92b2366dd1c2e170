// The OpenAPI document against the broker itself: what /openapi.json serves is docs/api/openapi.json,
// real responses (successes and errors) validate against the documented schema for their status
// with Ajv (JSON Schema 2020-12), and every documented operation is a route the broker has.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, startBroker } from './helpers'

const ADMIN = `ql_openapispec1_${'O'.repeat(43)}`
const DOC_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/api/openapi.json')
const auth = { authorization: `Bearer ${ADMIN}` }
let broker: Broker
let doc: any
let ajv: Ajv2020

beforeAll(async () => {
  broker = await startBroker({ auth: 'on', adminKey: ADMIN })
  doc = (await api(broker.url, 'GET', '/openapi.json')).body
  ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats.default(ajv)
  ajv.addSchema(doc, 'openapi')
})
afterAll(() => broker.stop())

/** `/v1/topics/spec.t/events?x` → `/v1/topics/{topic}/events`, by the document's own templates. */
function template(url: string): string {
  const bare = url.split('?')[0]!
  const params = (t: string) => t.split('{').length
  // a path without parameters wins over a template it also fits, as in the router (`/v1/events/status`)
  const [found] = Object.keys(doc.paths)
    .filter((t) => new RegExp(`^${t.replace(/\{\w+\}/g, '[^/]+')}$`).test(bare))
    .sort((a, b) => params(a) - params(b))
  if (!found) throw new Error(`${bare} is not in the OpenAPI document`)
  return found
}

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')

/** Sends a request and checks the answer against the document: its status is listed, its body fits. */
async function checked(method: string, url: string, body?: unknown, headers: Record<string, string> = auth) {
  const res = await api(broker.url, method, url, body, headers)
  const responses = doc.paths[template(url)][method.toLowerCase()]?.responses
  expect(responses, `${method} ${url} is documented`).toBeDefined()
  const response = responses[String(res.status)]
  expect(response, `${method} ${url} → ${res.status} is documented`).toBeDefined()
  // the schema of the media type answered (an Accept header may ask for another than JSON)
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim()
  if (response.content && type.endsWith('json')) {
    expect(response.content[type], `${method} ${url} → ${res.status} as ${type} is documented`).toBeDefined()
    const ref = `openapi#/${pointer('paths', template(url), method.toLowerCase(), 'responses', String(res.status), 'content', type, 'schema')}`
    const validate = ajv.getSchema(ref)!
    const ok = validate(res.body)
    expect(ok, `${method} ${url} → ${res.status}: ${JSON.stringify(validate.errors)}`).toBe(true)
  }
  return res
}

describe('the OpenAPI document', () => {
  it('is what docs/api/openapi.json holds, and served without a key', async () => {
    expect(doc).toEqual(JSON.parse(readFileSync(DOC_FILE, 'utf8')))
    expect(doc.openapi).toBe('3.1.0')
  })

  it('fits real answers of the broker, successes and errors', async () => {
    expect((await checked('POST', '/v1/topics', { name: 'spec.t', partitions: 2 })).status).toBe(201)
    expect((await checked('POST', '/v1/topics', { name: 'spec.t', partitions: 2 })).status).toBe(409)
    expect((await checked('POST', '/v1/topics', { name: '', partitions: -1 })).status).toBe(400)
    expect((await checked('GET', '/v1/topics')).status).toBe(200)
    expect((await checked('GET', '/v1/topics/spec.t')).status).toBe(200)
    expect((await checked('GET', '/v1/topics/spec.missing')).status).toBe(404)
    expect((await checked('GET', '/v1/topics', undefined, {})).status).toBe(401)
    const one = await checked('POST', '/v1/topics/spec.t/events', {
      type: 'game.kill',
      key: 'p7',
      data: { n: 1 },
    })
    expect(one.status).toBe(201)
    const batch = await checked('POST', '/v1/topics/spec.t/events', {
      events: [{ data: 1 }, { dataBase64: 'AAE=', key: 'p7' }],
    })
    expect(batch.body.receipts).toHaveLength(2)
    expect((await checked('POST', '/v1/topics/spec.t/events', { data: 1, dataBase64: 'AA==' })).status).toBe(
      400,
    )
    const page = await checked('GET', `/v1/topics/spec.t/events?partition=${one.body.partition}&limit=10`)
    expect(page.body.events.length).toBeGreaterThan(0)
    expect((await checked('GET', '/v1/topics/spec.t/events?partition=x')).status).toBe(400)
    // event times and CloudEvents, each way
    const timed = await checked('POST', '/v1/topics/spec.t/events', {
      time: '2026-01-02T03:04:05Z',
      data: { n: 2 },
    })
    expect((await checked('POST', '/v1/topics/spec.t/events', { time: 'soon', data: 1 })).status).toBe(400)
    const at = `/v1/topics/spec.t/events/${timed.body.partition}/${timed.body.offset}`
    expect((await checked('GET', at)).body.eventTime).toBe('2026-01-02T03:04:05.000Z')
    const structured = { ...auth, accept: 'application/cloudevents+json' }
    expect((await checked('GET', at, undefined, structured)).body.time).toBe('2026-01-02T03:04:05.000Z')
    expect((await checked('GET', '/v1/topics/spec.t/events/0/999999')).status).toBe(404)
    const ce = await checked(
      'GET',
      `/v1/topics/spec.t/events?partition=${timed.body.partition}&limit=10`,
      undefined,
      { ...auth, accept: 'application/cloudevents-batch+json' },
    )
    expect(ce.body.some((e: { time: string }) => e.time === '2026-01-02T03:04:05.000Z')).toBe(true)
    const byId = await checked('GET', `/v1/events/status?id=${timed.body.id}&source=/http`)
    expect(byId.body).toMatchObject({ topic: 'spec.t', offset: timed.body.offset })
    expect((await checked('GET', '/v1/events/status?id=x&source=/nowhere')).status).toBe(404)
    expect((await checked('GET', '/health/live')).status).toBe(200)
    expect((await checked('DELETE', '/v1/topics/spec.t')).status).toBe(204)
  })

  it('names only routes the broker has', async () => {
    for (const [template, methods] of Object.entries<Record<string, unknown>>(doc.paths)) {
      const url = template.replace(/\{\w+\}/g, 'spec-missing')
      for (const method of Object.keys(methods)) {
        const res = await api(
          broker.url,
          method.toUpperCase(),
          url,
          method === 'get' || method === 'delete' ? undefined : {},
          auth,
        )
        const message = String(res.body?.error?.message ?? '')
        expect(message, `${method.toUpperCase()} ${template}`).not.toMatch(/^no route for/)
      }
    }
    // and the check can fail: a route the broker lacks is told apart
    const missing = await api(broker.url, 'GET', '/v1/not-a-route', undefined, auth)
    expect(String(missing.body.error.message)).toMatch(/^no route for/)
  })
})
