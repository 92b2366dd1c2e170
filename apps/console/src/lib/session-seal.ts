import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

/** What the session cookie carries: the operator's admin key and who it is, until `exp`. */
export interface SessionData {
  /** The admin key, sent to the broker as `Authorization: Bearer` on every call. */
  key: string
  keyId: string
  name: string
  /** Milliseconds since the epoch after which the session is over. */
  exp: number
}

const IV_BYTES = 12
const TAG_BYTES = 16

const aesKey = (secret: string | Buffer) => createHash('sha256').update(secret).digest()

/** AES-256-GCM: the cookie is unreadable in the browser and any change to it is detected. */
export function seal(data: SessionData, secret: string | Buffer): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', aesKey(secret), iv)
  const body = Buffer.concat([cipher.update(JSON.stringify(data), 'utf8'), cipher.final()])
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')
}

/** The session in `sealed`, or null when it was tampered with, sealed with another secret, or is over. */
export function unseal(
  sealed: string | undefined,
  secret: string | Buffer,
  now = Date.now(),
): SessionData | null {
  if (!sealed) return null
  try {
    const raw = Buffer.from(sealed, 'base64url')
    if (raw.length <= IV_BYTES + TAG_BYTES) return null
    const decipher = createDecipheriv('aes-256-gcm', aesKey(secret), raw.subarray(0, IV_BYTES))
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
    const text = Buffer.concat([
      decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8')
    const data = JSON.parse(text) as SessionData
    if (typeof data.key !== 'string' || typeof data.exp !== 'number' || data.exp <= now) return null
    return data
  } catch {
    return null
  }
}
