// The WebSocket (/v1/ws) and Server-Sent Events (/v1/topics/{topic}/stream) protocols as an
// AsyncAPI 3 document, from the frame and envelope schemas the broker and SDKs use.
import { envelopeSchema } from '../envelope'
import { clientFrameSchema, serverFrameSchema } from '../frames'
import { jsonSchema } from './openapi'

export function buildAsyncApi(version: string) {
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Questlog WebSocket and SSE protocols',
      version,
      description:
        'Frames are JSON text messages, one per WebSocket message, discriminated by `op`. The first client frame is `hello` (with the key or token); the broker answers `welcome`.',
    },
    servers: {
      broker: { host: 'localhost:4600', protocol: 'ws', description: 'a Questlog broker' },
    },
    channels: {
      ws: {
        address: '/v1/ws',
        description: 'The SDK connection: publish batches, subscribe, ack/nak, request/reply, credits.',
        messages: {
          clientFrame: {
            name: 'clientFrame',
            contentType: 'application/json',
            payload: jsonSchema(clientFrameSchema, 'input'),
          },
          serverFrame: {
            name: 'serverFrame',
            contentType: 'application/json',
            payload: jsonSchema(serverFrameSchema, 'output'),
          },
        },
      },
      stream: {
        address: '/v1/topics/{topic}/stream',
        description:
          'Server-Sent Events: `data:` is an envelope as JSON, `id:` an opaque cursor over every partition read; reconnects resume from `Last-Event-ID`. A session whose token expired or was revoked ends with an `event: error` whose data is the error body.',
        parameters: { topic: { description: 'topic name' } },
        messages: {
          event: {
            name: 'event',
            contentType: 'application/json',
            payload: jsonSchema(envelopeSchema, 'output'),
          },
        },
      },
    },
    operations: {
      sendFrame: {
        action: 'send',
        channel: { $ref: '#/channels/ws' },
        messages: [{ $ref: '#/channels/ws/messages/clientFrame' }],
      },
      receiveFrame: {
        action: 'receive',
        channel: { $ref: '#/channels/ws' },
        messages: [{ $ref: '#/channels/ws/messages/serverFrame' }],
      },
      receiveEvent: {
        action: 'receive',
        channel: { $ref: '#/channels/stream' },
        messages: [{ $ref: '#/channels/stream/messages/event' }],
      },
    },
  }
}
