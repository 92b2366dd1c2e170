import { PageHeader } from './states'

/** A screen whose broker feature is not built yet: said plainly, with no made-up data. */
export function NotAvailable({ title, what }: { title: string; what: string }) {
  return (
    <>
      <PageHeader title={title} />
      <div className="empty" data-testid="not-available">
        <h2>Not available yet</h2>
        <p>{what}</p>
        <p className="muted">
          This broker does not offer this feature yet. The screen will fill in once the broker's admin API has
          it.
        </p>
      </div>
    </>
  )
}
