import { notFound } from 'next/navigation'

// an address no screen matches: the group's not-found page renders inside the console's layout,
// which the root not-found page would not (https://nextjs.org/docs/app/api-reference/file-conventions/not-found)
export default function Missing() {
  notFound()
}
