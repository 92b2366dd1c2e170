import { KeyList } from '@/components/access/key-list'

export default function Page() {
  return <KeyList />
}
