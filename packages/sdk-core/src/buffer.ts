import { BufferFullError } from './errors'

/** What `push` does when the buffer is full. */
export type OverrunPolicy = 'drop-oldest' | 'drop-newest' | 'block' | 'error'

/**
 * A FIFO of bounded length, kept in a ring (a circular array that doubles as it
 * fills, never past the power of two above `capacity`). When full, `drop-oldest`
 * evicts the head, `drop-newest` refuses the new item, `error` throws
 * BufferFullError, `block` waits for room. Dropped items go to `onDrop` so their
 * owners can be told.
 */
export class BoundedBuffer<T> {
  private ring: (T | undefined)[]
  private mask: number
  private head = 0
  private size = 0
  private readonly blocked: Array<{ item: T; resolve: () => void }> = []
  private readonly itemWaiters: Array<() => void> = []
  /** Items dropped so far under a drop policy. */
  dropped = 0

  constructor(
    readonly capacity: number,
    readonly policy: OverrunPolicy,
    private readonly onDrop: (item: T) => void = () => {},
  ) {
    if (!(capacity >= 1)) throw new RangeError('capacity must be at least 1')
    const initial = Math.min(16, 2 ** Math.ceil(Math.log2(capacity)))
    this.ring = new Array(initial)
    this.mask = initial - 1
  }

  get length(): number {
    return this.size
  }

  /** Items waiting under `block` for room. */
  get waiting(): number {
    return this.blocked.length
  }

  /** Adds an item; returns a promise only when the policy is `block` and the buffer is full. */
  push(item: T): undefined | Promise<void> {
    if (this.size < this.capacity && this.blocked.length === 0) {
      this.append(item)
      return undefined
    }
    switch (this.policy) {
      case 'drop-oldest': {
        const old = this.removeHead()
        this.dropped++
        this.append(item)
        this.onDrop(old)
        return undefined
      }
      case 'drop-newest':
        this.dropped++
        this.onDrop(item)
        return undefined
      case 'error':
        throw new BufferFullError(this.capacity)
      case 'block':
        return new Promise<void>((resolve) => this.blocked.push({ item, resolve }))
    }
  }

  at(i: number): T | undefined {
    return i >= 0 && i < this.size ? this.ring[(this.head + i) & this.mask] : undefined
  }

  /** Removes and returns the first item, or undefined when empty. */
  take(): T | undefined {
    if (this.size === 0) return undefined
    const item = this.removeHead()
    this.admitBlocked()
    return item
  }

  /** Removes and returns the first `n` items. */
  shift(n: number): T[] {
    const count = Math.max(0, Math.min(n, this.size))
    const out = new Array<T>(count)
    for (let i = 0; i < count; i++) out[i] = this.removeHead()
    this.admitBlocked()
    return out
  }

  /** Resolves once the buffer holds at least one item. */
  whenNotEmpty(): Promise<void> {
    if (this.size > 0) return Promise.resolve()
    return new Promise((resolve) => this.itemWaiters.push(resolve))
  }

  /** Wakes every `whenNotEmpty` waiter, e.g. when the owner shuts down. */
  wake(): void {
    for (const w of this.itemWaiters.splice(0)) w()
  }

  private removeHead(): T {
    const item = this.ring[this.head] as T
    this.ring[this.head] = undefined
    this.head = (this.head + 1) & this.mask
    this.size--
    return item
  }

  /** Items that waited under `block` take the room made, in the order they came. */
  private admitBlocked(): void {
    while (this.blocked.length > 0 && this.size < this.capacity) {
      const b = this.blocked.shift()!
      this.append(b.item)
      b.resolve()
    }
  }

  private append(item: T): void {
    if (this.size === this.ring.length) this.grow()
    this.ring[(this.head + this.size) & this.mask] = item
    this.size++
    if (this.itemWaiters.length > 0) for (const w of this.itemWaiters.splice(0)) w()
  }

  /** Doubles the ring, the items laid out from index 0 in their order. */
  private grow(): void {
    const next = new Array<T | undefined>(this.ring.length * 2)
    for (let i = 0; i < this.size; i++) next[i] = this.ring[(this.head + i) & this.mask]
    this.ring = next
    this.mask = next.length - 1
    this.head = 0
  }
}
