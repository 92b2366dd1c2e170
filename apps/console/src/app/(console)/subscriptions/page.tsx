import { SubscriptionList } from '@/components/subscriptions/subscription-list'

export default function Page() {
  return <SubscriptionList />
}
