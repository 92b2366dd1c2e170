import { NotAvailable } from '@/components/not-available'

export default function Page() {
  return (
    <NotAvailable
      title="Subscriptions"
      what="Consumer groups and queues with their members, lag per partition, pending and redelivered events, pause/resume and reset."
    />
  )
}
