'use client'

import { formatTime } from '@/lib/format'
import { useTimeZoneChoice } from '@/lib/time-zone'

/** A moment with its date, time and zone, in the zone the operator chose (local or UTC). */
export function Time({ value }: { value: string | number }) {
  const zone = useTimeZoneChoice()
  return <time dateTime={new Date(value).toISOString()}>{formatTime(value, zone)}</time>
}
