'use client'

import { useQuery } from '@tanstack/react-query'
import { ErrorNote } from '@/components/states'
import { TimeChart } from '@/components/time-chart'
import { trpc } from '@/lib/trpc'

const COLORS = ['#2563eb', '#0d9488', '#db2777', '#ca8a04', '#7c3aed', '#ea580c', '#0891b2', '#65a30d']

type LagPoint = { t: number } & Record<string, number>

/** A subscription's lag over time: the total and one line per partition (the first eight). */
export function LagChart({ name }: { name: string }) {
  const series = useQuery({
    queryKey: ['stats.subscriptionLag', name],
    queryFn: () => trpc.stats.subscriptionLag.query({ name }),
    refetchInterval: 1000,
  })
  if (series.error && !series.data)
    return <ErrorNote error={series.error} title="The lag chart cannot load." />
  const data = series.data
  if (!data || data.points.length === 0) {
    return (
      <div className="panel empty" data-testid="lag-chart-empty">
        Collecting the first lag samples: the chart fills in within a few seconds.
      </div>
    )
  }
  const shown = data.partitions.slice(0, COLORS.length)
  const points: LagPoint[] = data.points.map((p) => {
    const point: LagPoint = { t: p.t, lag: p.lag } as LagPoint
    shown.forEach((key, i) => {
      point[`partition${i}`] = p.partitions[key] ?? 0
    })
    return point
  })
  return (
    <TimeChart
      id="subscription-lag"
      title="Lag per partition"
      unit="events"
      points={points}
      series={[
        { key: 'lag', name: 'total', color: 'var(--ink)' },
        ...shown.map((key, i) => ({ key: `partition${i}`, name: key, color: COLORS[i] ?? '#6b7280' })),
      ]}
    />
  )
}
