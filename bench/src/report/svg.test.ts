import { describe, expect, it } from 'vitest'
import { lineChart, ticks } from './svg'

describe('ticks', () => {
  it('steps by 1, 2 or 5 times a power of ten on a linear axis', () => {
    expect(ticks(0, 100, false)).toEqual([0, 20, 40, 60, 80, 100])
    expect(ticks(0, 0.9, false)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1])
  })

  it('gives powers of ten on a log axis', () => {
    expect(ticks(1, 1000, true)).toEqual([1, 10, 100, 1000])
  })
})

describe('lineChart', () => {
  it('draws one path and one legend entry per series, escaping names', () => {
    const svg = lineChart({
      title: 'T',
      xLabel: 'x',
      yLabel: 'y',
      xLog: true,
      series: [
        {
          name: 'a <b>',
          points: [
            [1, 1],
            [10, 5],
          ],
        },
        {
          name: 'c',
          points: [
            [1, 2],
            [100, 3],
          ],
        },
      ],
    })
    expect(svg.match(/<path /g)).toHaveLength(2)
    expect(svg).toContain('a &lt;b&gt;')
    expect(svg).not.toContain('NaN')
  })
})
