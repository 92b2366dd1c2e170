import { ReplayList } from '@/components/replays/replay-list'

export default function Page() {
  return <ReplayList />
}
