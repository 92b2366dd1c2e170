import type { ReactNode } from 'react'
import { describeError } from '@/lib/errors'

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  )
}

export function ErrorNote({ error, title }: { error: unknown; title?: string }) {
  return (
    <div className="error-note" role="alert">
      {title && <strong>{title} </strong>}
      {describeError(error)}
    </div>
  )
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <header className="page-header">
      <h1>{title}</h1>
      {children && <div className="actions">{children}</div>}
    </header>
  )
}
