import { NotAvailable } from '@/components/not-available'

export default function Page() {
  return (
    <NotAvailable
      title="Replay jobs"
      what="Re-delivering a topic's events by offset or time range into a subscription or topic, with live progress and cancel."
    />
  )
}
