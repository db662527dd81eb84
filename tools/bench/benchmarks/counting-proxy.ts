import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP relay in front of an HTTP server that counts the bytes each way (headers included, as they
 * cross the wire), so a benchmark can measure what a client's requests really cost without touching
 * the client. Keep-alive connections are relayed as they are.
 */
export class CountingProxy {
  /** Bytes from the client to the server (requests). */
  sent = 0;
  /** Bytes from the server to the client (responses). */
  received = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<CountingProxy> {
    const { hostname, port } = new URL(target);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address() as AddressInfo;
    const proxy = new CountingProxy(server, `http://127.0.0.1:${address.port}`);
    server.on('connection', (client: Socket) => proxy.relay(client, hostname, Number(port)));
    return proxy;
  }

  private relay(client: Socket, host: string, port: number): void {
    const upstream = connect(port, host);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (data: Buffer) => (this.sent += data.byteLength));
    upstream.on('data', (data: Buffer) => (this.received += data.byteLength));
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
