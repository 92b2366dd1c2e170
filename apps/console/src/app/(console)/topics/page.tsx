import { TopicList } from '@/components/topics/topic-list'

export default function Page() {
  return <TopicList />
}
