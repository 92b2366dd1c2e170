'use client'

import { type ReactNode, useEffect, useState } from 'react'
import { formatNumber } from '@/lib/format'

/** The value, once it has stopped changing for `ms`: a search box asks the broker once per pause. */
export function useSettled<T>(value: T, ms = 250): T {
  const [settled, setSettled] = useState(value)
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms)
    return () => clearTimeout(timer)
  }, [value, ms])
  return settled
}

export interface Sorting<K extends string> {
  sort: K
  desc: boolean
}

/** A column heading that sorts by its field; a second click turns the order round. */
export function SortHeader<K extends string>({
  field,
  sorting,
  onSort,
  numeric,
  children,
}: {
  field: K
  sorting: Sorting<K>
  onSort(s: Sorting<K>): void
  numeric?: boolean
  children: ReactNode
}) {
  const active = sorting.sort === field
  const order = active ? (sorting.desc ? 'descending' : 'ascending') : 'none'
  return (
    <th className={numeric ? 'num' : undefined} aria-sort={order}>
      <button
        type="button"
        className="sort"
        onClick={() => onSort({ sort: field, desc: active ? !sorting.desc : Boolean(numeric) })}
      >
        {children}
        <span aria-hidden="true">{active ? (sorting.desc ? ' ▼' : ' ▲') : ''}</span>
      </button>
    </th>
  )
}

/** "51–100 of 1,000" with the previous and next pages. */
export function Pager({
  offset,
  limit,
  total,
  shown,
  what,
  onOffset,
}: {
  offset: number
  limit: number
  total: number
  shown: number
  what: string
  onOffset(offset: number): void
}) {
  return (
    <nav className="pager" aria-label={`Pages of ${what}`}>
      <span data-testid="pager-range" role="status">
        {total === 0
          ? `No ${what}`
          : `${formatNumber(offset + 1)}–${formatNumber(offset + shown)} of ${formatNumber(total)} ${what}`}
      </span>
      <button type="button" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - limit))}>
        Previous
      </button>
      <button type="button" disabled={offset + limit >= total} onClick={() => onOffset(offset + limit)}>
        Next
      </button>
    </nav>
  )
}
