import { BrokerList } from '@/components/broker-list'

export default function Page() {
  return <BrokerList />
}
