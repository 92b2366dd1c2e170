import { Overview } from '@/components/overview'

export default function Page() {
  return <Overview />
}
