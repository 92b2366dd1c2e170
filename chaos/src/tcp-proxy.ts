import net from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 in front of one upstream port, that can cut every connection through
 * it at once (a reset on both sides, as a NAT box or a load balancer that loses its state does).
 */
export class TcpProxy {
  private readonly server: net.Server
  private readonly pairs = new Set<[net.Socket, net.Socket]>()
  /** Connections cut so far. */
  cut = 0
  port = 0

  constructor(private readonly upstreamPort: number) {
    this.server = net.createServer((down) => {
      const up = net.connect(this.upstreamPort, '127.0.0.1')
      const pair: [net.Socket, net.Socket] = [down, up]
      this.pairs.add(pair)
      const end = () => {
        this.pairs.delete(pair)
        down.destroy()
        up.destroy()
      }
      for (const s of pair) {
        s.on('error', end)
        s.on('close', end)
      }
      down.pipe(up)
      up.pipe(down)
    })
  }

  /** Listens on a free port; `url` is then the broker's URL through the proxy. */
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** Resets every connection through the proxy; returns how many were cut. */
  cutAll(): number {
    const pairs = [...this.pairs]
    this.pairs.clear()
    for (const [down, up] of pairs) {
      down.resetAndDestroy()
      up.resetAndDestroy()
    }
    this.cut += pairs.length
    return pairs.length
  }

  async stop(): Promise<void> {
    this.cutAll()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
