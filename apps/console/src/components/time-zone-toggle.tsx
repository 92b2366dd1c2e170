'use client'

import { zoneLabel } from '@/lib/format'
import { setTimeZoneChoice, useTimeZoneChoice } from '@/lib/time-zone'

/** Shows every time in UTC instead of the browser's zone; the choice outlives the session. */
export function TimeZoneToggle() {
  const zone = useTimeZoneChoice()
  const local = zoneLabel()
  return (
    <label className="zone-toggle">
      <input
        type="checkbox"
        checked={zone === 'utc'}
        onChange={(e) => setTimeZoneChoice(e.target.checked ? 'utc' : 'local')}
        data-testid="utc-toggle"
      />
      Times in UTC
      <span className="zone-now" suppressHydrationWarning>
        {zone === 'utc' || local === 'UTC' ? '' : ` (now ${local})`}
      </span>
    </label>
  )
}
