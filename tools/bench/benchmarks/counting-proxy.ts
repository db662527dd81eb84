import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** An HTTP/1.x request line as it starts a request on the wire. */
const requestLine = /(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS) (\S+) HTTP\/1\.[01]\r\n/g;
/** Longer than any request line a client sends: what is kept of a connection's bytes between two reads. */
const longestRequestLine = 16_384;

/** One request as the relay saw it go by. */
export interface RelayedRequest {
  /** When its request line crossed the relay (Date.now()). */
  at: number;
  method: string;
  target: string;
}

/**
 * A TCP relay in front of an HTTP server that counts the bytes each way (headers included, as they
 * cross the wire) and the requests (their request lines), so a benchmark can measure what a
 * client's requests really cost without touching the client. Keep-alive connections are relayed as
 * they are. Requests are found by their request line in the client's bytes: a body holding a raw
 * CR LF after such a line would count too, which a JSON body (all Rucio's) cannot.
 */
export class CountingProxy {
  /** Bytes from the client to the server (requests). */
  sent = 0;
  /** Bytes from the server to the client (responses). */
  received = 0;
  readonly requests: RelayedRequest[] = [];
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
    // What is kept between reads never holds a whole request line, so none is counted twice.
    let carried = '';
    client.on('data', (data: Buffer) => {
      this.sent += data.byteLength;
      const text = carried + data.toString('latin1');
      let counted = 0;
      for (const match of text.matchAll(requestLine)) {
        this.requests.push({ at: Date.now(), method: match[1] ?? '', target: match[2] ?? '' });
        counted = match.index + match[0].length;
      }
      carried = text.slice(Math.max(counted, text.length - longestRequestLine));
    });
    upstream.on('data', (data: Buffer) => (this.received += data.byteLength));
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
