'use client'

import { useState } from 'react'

/** The new key's secret, shown this once: the broker keeps only a hash of it. */
export function NewSecret({ name, secret, onDone }: { name: string; secret: string; onDone(): void }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null)
  async function copy() {
    try {
      await navigator.clipboard.writeText(secret)
      setCopied('yes')
    } catch {
      setCopied('failed')
    }
  }
  return (
    <section className="panel" data-testid="new-secret" aria-labelledby="new-secret-title">
      <h2 id="new-secret-title">Key “{name}” created</h2>
      <div className="ok-note" role="status">
        Copy the key now: <strong>you will not see it again.</strong> The broker stores only a hash of it; if
        it is lost, revoke it and create another.
      </div>
      <div className="secret">
        <code data-testid="secret">{secret}</code>
        <button type="button" className="primary" onClick={copy}>
          Copy
        </button>
      </div>
      {copied === 'yes' && <p className="muted">Copied to the clipboard.</p>}
      {copied === 'failed' && (
        <p className="muted">The browser refused the clipboard: select the key and copy it.</p>
      )}
      <button type="button" onClick={onDone}>
        I have saved it
      </button>
    </section>
  )
}
