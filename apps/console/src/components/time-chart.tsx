'use client'

import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts'
import { formatAxis, formatClock, zoneLabel } from '@/lib/format'
import { useTimeZoneChoice } from '@/lib/time-zone'

export interface Series<P> {
  key: keyof P & string
  name: string
  color: string
}

interface Props<P extends { t: number }> {
  id: string
  title: string
  unit: string
  points: P[]
  series: Series<P>[]
}

/**
 * A line chart over time. The figure carries how many samples it draws and the
 * largest and latest value of each series, so a test can check the data behind the lines.
 */
export function TimeChart<P extends { t: number }>({ id, title, unit, points, series }: Props<P>) {
  const zone = useTimeZoneChoice()
  const zoneName = zone === 'utc' ? 'UTC' : zoneLabel()
  const clock = (t: number) => formatClock(t, zone)
  const values = (key: string) =>
    points.map((p) => (p as Record<string, unknown>)[key]).filter((v): v is number => typeof v === 'number')
  const attrs: Record<string, string> = {}
  for (const s of series) {
    const v = values(s.key)
    const attr = s.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
    attrs[`data-max-${attr}`] = String(v.length ? Math.max(...v) : 0)
    attrs[`data-last-${attr}`] = String(v.at(-1) ?? '')
  }
  const latest = points.at(-1) as Record<string, unknown> | undefined
  const first = series[0]
  const now = first && latest ? latest[first.key] : undefined
  return (
    <figure
      className="chart panel"
      data-testid={`chart-${id}`}
      data-points={points.length}
      data-last-t={points.at(-1)?.t ?? ''}
      {...attrs}
    >
      <figcaption>
        <span>{title}</span>
        <span className="now">{typeof now === 'number' ? `now ${now} ${unit}` : 'idle'}</span>
      </figcaption>
      <ResponsiveContainer width="100%" height={210}>
        <LineChart data={points} margin={{ top: 4, right: 12, bottom: 0, left: -8 }}>
          <CartesianGrid stroke="var(--line)" vertical={false} />
          <XAxis
            dataKey="t"
            type="number"
            scale="time"
            domain={['dataMin', 'dataMax']}
            tickFormatter={clock}
            tick={{ fontSize: 11, fill: 'var(--muted)' }}
            stroke="var(--line)"
            minTickGap={40}
          />
          <YAxis
            tick={{ fontSize: 11, fill: 'var(--muted)' }}
            tickFormatter={formatAxis}
            stroke="var(--line)"
            width={52}
            allowDecimals
          />
          <Tooltip
            labelFormatter={(t) => `${clock(Number(t))} ${zoneName}`}
            contentStyle={{ background: 'var(--panel)', borderColor: 'var(--line)', color: 'var(--ink)' }}
            formatter={(v) => (v === null || v === undefined ? '—' : `${v} ${unit}`)}
          />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          {series.map((s) => (
            <Line
              key={s.key}
              dataKey={s.key}
              name={s.name}
              stroke={s.color}
              dot={false}
              strokeWidth={1.6}
              isAnimationActive={false}
              connectNulls
            />
          ))}
        </LineChart>
      </ResponsiveContainer>
      <p className="chart-zone muted">
        {unit} against time, times in {zoneName}
      </p>
    </figure>
  )
}
