import { BufferFullError } from './errors'

/** What `push` does when the buffer is full. */
export type OverrunPolicy = 'drop-oldest' | 'drop-newest' | 'block' | 'error'

/**
 * A FIFO of bounded length. When full, `drop-oldest` evicts the head, `drop-newest`
 * refuses the new item, `error` throws BufferFullError, `block` waits for room.
 * Dropped items go to `onDrop` so their owners can be told.
 */
export class BoundedBuffer<T> {
  private items: (T | undefined)[] = []
  private head = 0
  private readonly blocked: Array<{ item: T; resolve: () => void }> = []
  private readonly itemWaiters: Array<() => void> = []
  private readonly roomWaiters: Array<() => void> = []
  /** Items dropped so far under a drop policy. */
  dropped = 0

  constructor(
    readonly capacity: number,
    readonly policy: OverrunPolicy,
    private readonly onDrop: (item: T) => void = () => {},
  ) {
    if (!(capacity >= 1)) throw new RangeError('capacity must be at least 1')
  }

  get length(): number {
    return this.items.length - this.head
  }

  /** Items waiting under `block` for room. */
  get waiting(): number {
    return this.blocked.length
  }

  /** Adds an item; returns a promise only when the policy is `block` and the buffer is full. */
  push(item: T): undefined | Promise<void> {
    if (this.length < this.capacity && this.blocked.length === 0) {
      this.append(item)
      return undefined
    }
    switch (this.policy) {
      case 'drop-oldest': {
        const old = this.items[this.head] as T
        this.items[this.head++] = undefined
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
    return this.items[this.head + i]
  }

  /** Removes and returns the first `n` items. */
  shift(n: number): T[] {
    const out = this.items.slice(this.head, this.head + n) as T[]
    for (let i = 0; i < out.length; i++) this.items[this.head + i] = undefined
    this.head += out.length
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    while (this.blocked.length > 0 && this.length < this.capacity) {
      const b = this.blocked.shift()!
      this.append(b.item)
      b.resolve()
    }
    if (this.length < this.capacity) for (const w of this.roomWaiters.splice(0)) w()
    return out
  }

  /** Resolves once the buffer holds at least one item. */
  whenNotEmpty(): Promise<void> {
    if (this.length > 0) return Promise.resolve()
    return new Promise((resolve) => this.itemWaiters.push(resolve))
  }

  /** Wakes every `whenNotEmpty` waiter, e.g. when the owner shuts down. */
  wake(): void {
    for (const w of this.itemWaiters.splice(0)) w()
  }

  private append(item: T): void {
    this.items.push(item)
    if (this.itemWaiters.length > 0) for (const w of this.itemWaiters.splice(0)) w()
  }
}
