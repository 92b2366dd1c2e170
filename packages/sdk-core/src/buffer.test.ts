import { isQuestlogError } from '@questlog/protocol'
import { describe, expect, it } from 'vitest'
import { BoundedBuffer } from './buffer'

describe('BoundedBuffer', () => {
  it('drop-oldest evicts the head and reports it', () => {
    const dropped: number[] = []
    const b = new BoundedBuffer<number>(3, 'drop-oldest', (n) => dropped.push(n))
    for (let i = 0; i < 5; i++) b.push(i)
    expect(b.shift(10)).toEqual([2, 3, 4])
    expect(dropped).toEqual([0, 1])
    expect(b.dropped).toBe(2)
  })

  it('drop-newest refuses the new item and reports it', () => {
    const dropped: number[] = []
    const b = new BoundedBuffer<number>(3, 'drop-newest', (n) => dropped.push(n))
    for (let i = 0; i < 5; i++) b.push(i)
    expect(b.shift(10)).toEqual([0, 1, 2])
    expect(dropped).toEqual([3, 4])
    expect(b.dropped).toBe(2)
  })

  it('error throws a typed BufferFullError and keeps what it had', () => {
    const b = new BoundedBuffer<number>(2, 'error')
    b.push(1)
    b.push(2)
    let caught: unknown
    try {
      b.push(3)
    } catch (e) {
      caught = e
    }
    expect(isQuestlogError(caught) && caught.name).toBe('BufferFullError')
    expect(isQuestlogError(caught) && caught.code).toBe('backpressure')
    expect(b.shift(10)).toEqual([1, 2])
  })

  it('block waits for room, then enqueues in order', async () => {
    const b = new BoundedBuffer<number>(2, 'block')
    expect(b.push(1)).toBeUndefined()
    expect(b.push(2)).toBeUndefined()
    let third = false
    const p3 = b.push(3)!.then(() => {
      third = true
    })
    const p4 = b.push(4)
    expect(b.waiting).toBe(2)
    await new Promise((r) => setTimeout(r, 10))
    expect(third).toBe(false)
    expect(b.shift(1)).toEqual([1])
    await p3
    expect(third).toBe(true)
    expect(b.shift(1)).toEqual([2])
    await p4
    expect(b.shift(10)).toEqual([3, 4])
    expect(b.dropped).toBe(0)
  })

  it('wakes a waiter when an item arrives', async () => {
    const b = new BoundedBuffer<string>(4, 'error')
    const waiting = b.whenNotEmpty()
    setTimeout(() => b.push('x'), 5)
    await waiting
    expect(b.length).toBe(1)
  })
})
