import {
  BadRequestError,
  InternalError,
  isQuestlogError,
  PayloadTooLargeError,
  QuestlogError as QE,
  type QuestlogError,
  validationErrorFromZod,
} from '@questlog/protocol'
import { ZodError } from 'zod'
import { unavailableCode } from './storage/db-errors'

interface FastifyLikeError {
  code?: string
  statusCode?: number
  message?: string
}

/** The one place where anything thrown becomes a coded error. */
export function toQuestlogError(err: unknown): { error: QuestlogError; unexpected: boolean } {
  if (isQuestlogError(err)) return { error: err, unexpected: false }
  if (err instanceof ZodError) return { error: validationErrorFromZod(err), unexpected: false }
  const e = err as FastifyLikeError
  switch (e?.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { error: new BadRequestError(`body is not valid JSON: ${e.message}`), unexpected: false }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { error: new BadRequestError('body is empty; send a JSON document'), unexpected: false }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        error: new PayloadTooLargeError('request body is larger than the broker accepts', 0, 0),
        unexpected: false,
      }
    case 'FST_ERR_BAD_URL':
      return { error: new BadRequestError('the URL has a malformed percent-escape'), unexpected: false }
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return { error: new BadRequestError('a segment of the URL is too long'), unexpected: false }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        error: new QE('unsupported_media_type', `unsupported content type: ${e.message}`),
        unexpected: false,
      }
  }
  const unavailable = unavailableCode(err)
  if (unavailable !== undefined) {
    return {
      error: new QE(
        'unavailable',
        `the database did not complete the request (${unavailable}); retry: an event with a dedupe key or producer seq is stored once`,
        { details: { reason: unavailable } },
      ),
      unexpected: false,
    }
  }
  // decodeURIComponent of a path segment or header
  if (err instanceof URIError) {
    return { error: new BadRequestError('a percent-escape in the request is malformed'), unexpected: false }
  }
  // a document nested past what a recursive walk of it (a schema, JSON.stringify) can take
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return { error: new BadRequestError('the request is nested too deeply'), unexpected: false }
  }
  if (err instanceof SyntaxError || (e?.statusCode === 400 && e.message)) {
    return { error: new BadRequestError(`body is not valid JSON: ${e.message}`), unexpected: false }
  }
  return { error: new InternalError('internal error', { cause: err }), unexpected: true }
}
