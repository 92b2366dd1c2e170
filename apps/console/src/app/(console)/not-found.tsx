import Link from 'next/link'
import { PageHeader } from '@/components/states'

/** An address the console has no screen for, shown inside the console's frame with the way back. */
export default function NotFound() {
  return (
    <>
      <PageHeader title="Page not found" />
      <div className="empty" data-testid="not-found">
        <h2>There is no screen at this address</h2>
        <p>
          The link may be old or mistyped. Go to the <Link href="/">overview</Link>, or find it among the{' '}
          <Link href="/topics">topics</Link> and <Link href="/subscriptions">subscriptions</Link>.
        </p>
      </div>
    </>
  )
}
