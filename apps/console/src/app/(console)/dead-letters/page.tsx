import { DeadLetterOverview } from '@/components/subscriptions/dead-letter-overview'

export default function Page() {
  return <DeadLetterOverview />
}
