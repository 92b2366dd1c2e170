import type { Envelope } from '@questlog/protocol'

/** The payload's bytes: JSON as its text, base64 decoded. */
export function payloadBytes(e: Envelope): Uint8Array {
  if (e.dataBase64 !== undefined) {
    const bin = atob(e.dataBase64)
    return Uint8Array.from(bin, (c) => c.charCodeAt(0))
  }
  return new TextEncoder().encode(JSON.stringify(e.data) ?? 'null')
}

/** Bytes as UTF-8 text when they are printable text (tabs and newlines allowed), else null. */
export function printable(bytes: Uint8Array): string | null {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    // control characters other than tab, newline and carriage return mean binary
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
    return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? null : text
  } catch {
    return null
  }
}

/** "00 1f a0 …", sixteen bytes a line with their offset. */
export function hexView(bytes: Uint8Array, max = 4096): string {
  const lines: string[] = []
  for (let i = 0; i < Math.min(bytes.length, max); i += 16) {
    const row = [...bytes.slice(i, Math.min(i + 16, max))].map((b) => b.toString(16).padStart(2, '0'))
    lines.push(`${i.toString(16).padStart(6, '0')}  ${row.join(' ')}`)
  }
  if (bytes.length > max) lines.push(`… ${bytes.length - max} more bytes`)
  return lines.join('\n')
}

/** The payload as an operator reads it: JSON pretty-printed, printable bytes as text, else a note. */
export function payloadText(e: Envelope): string {
  if (e.dataBase64 === undefined) return JSON.stringify(e.data, null, 2) ?? 'null'
  const text = printable(payloadBytes(e))
  return text ?? `(${e.contentType}, ${payloadBytes(e).length} bytes of binary: see the hex view)`
}

/** One line of the table: the payload's first characters. */
export function payloadPreview(e: Envelope, chars = 80): string {
  const text =
    e.dataBase64 === undefined
      ? (JSON.stringify(e.data) ?? 'null')
      : (printable(payloadBytes(e)) ?? '(binary)')
  return text.length > chars ? `${text.slice(0, chars)}…` : text
}
