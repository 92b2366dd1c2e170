import { SubscriptionPage } from '@/components/subscriptions/subscription-page'

export default async function Page({ params }: { params: Promise<{ name: string }> }) {
  const { name } = await params
  return <SubscriptionPage name={decodeURIComponent(name)} />
}
