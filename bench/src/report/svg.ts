/** A small, dependency-free SVG line chart: enough for throughput curves and latency CDFs. */
export interface Series {
  name: string
  points: Array<[number, number]>
}

export interface ChartSpec {
  title: string
  xLabel: string
  yLabel: string
  series: Series[]
  xLog?: boolean
  yMin?: number
  yMax?: number
  /** Formats tick labels on the y axis. */
  yFormat?: (v: number) => string
}

const W = 760
const H = 440
const M = { left: 80, right: 200, top: 40, bottom: 56 }
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf']

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const num = (v: number) => (Math.abs(v) >= 1000 ? `${Math.round(v / 1000)}k` : String(+v.toPrecision(3)))

/** Round ticks covering [lo, hi]: powers of ten on a log axis, 1/2/5 steps on a linear one. */
export function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = []
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e)
    return out
  }
  const raw = (hi - lo) / 5
  const mag = 10 ** Math.floor(Math.log10(raw || 1))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw
  const out: number[] = []
  // the last tick is at or above hi, so the axis ends on a round value
  const top = Math.ceil(hi / step - 1e-9) * step
  for (let v = Math.ceil(lo / step) * step; v <= top + step * 1e-9; v += step) out.push(+v.toPrecision(12))
  return out
}

export function lineChart(spec: ChartSpec): string {
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0])).filter((x) => !spec.xLog || x > 0)
  const ys = spec.series.flatMap((s) => s.points.map((p) => p[1]))
  let xLo = Math.min(...xs)
  let xHi = Math.max(...xs)
  if (spec.xLog) {
    xLo = 10 ** Math.floor(Math.log10(xLo))
    xHi = 10 ** Math.ceil(Math.log10(xHi))
  }
  const yLo = spec.yMin ?? 0
  const yTicks = ticks(yLo, spec.yMax ?? Math.max(...ys), false)
  const yHi = spec.yMax ?? yTicks[yTicks.length - 1] ?? 1
  const fx = (x: number) => (spec.xLog ? Math.log10(x) : x)
  const px = (x: number) => M.left + ((fx(x) - fx(xLo)) / (fx(xHi) - fx(xLo) || 1)) * (W - M.left - M.right)
  const py = (y: number) => H - M.bottom - ((y - yLo) / (yHi - yLo || 1)) * (H - M.top - M.bottom)
  const yFmt = spec.yFormat ?? num
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="22" font-size="15" font-weight="bold">${esc(spec.title)}</text>`,
  ]
  for (const t of ticks(xLo, xHi, spec.xLog ?? false)) {
    if (t < xLo || t > xHi) continue
    parts.push(
      `<line x1="${px(t)}" y1="${M.top}" x2="${px(t)}" y2="${H - M.bottom}" stroke="#eee"/>`,
      `<text x="${px(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${num(t)}</text>`,
    )
  }
  for (const t of yTicks) {
    if (t > yHi) continue
    parts.push(
      `<line x1="${M.left}" y1="${py(t)}" x2="${W - M.right}" y2="${py(t)}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${py(t) + 4}" text-anchor="end">${yFmt(t)}</text>`,
    )
  }
  parts.push(
    `<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#888"/>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 14}" text-anchor="middle">${esc(spec.xLabel)}</text>`,
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`,
  )
  spec.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]
    const pts = s.points.filter((p) => !spec.xLog || p[0] > 0)
    const d = pts
      .map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`)
      .join('')
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`)
    if (pts.length <= 12) {
      for (const p of pts)
        parts.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${color}"/>`)
    }
    const ly = M.top + 10 + i * 20
    parts.push(
      `<line x1="${W - M.right + 12}" y1="${ly}" x2="${W - M.right + 32}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${W - M.right + 38}" y="${ly + 4}">${esc(s.name)}</text>`,
    )
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}
