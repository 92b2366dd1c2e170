import { NotAvailable } from '@/components/not-available'

export default function Page() {
  return (
    <NotAvailable
      title="Access keys"
      what="API keys (shown once at creation), revocation and topic permissions."
    />
  )
}
