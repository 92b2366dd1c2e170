import { NotAvailable } from '@/components/not-available'

export default function Page() {
  return (
    <NotAvailable
      title="Dead letters"
      what="Events that failed past their subscription's maximum deliveries, with the reason, and redrive."
    />
  )
}
