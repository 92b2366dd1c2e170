import { TopicPage } from '@/components/topics/topic-page'

export default async function Page({ params }: { params: Promise<{ name: string }> }) {
  const { name } = await params
  return <TopicPage name={decodeURIComponent(name)} />
}
