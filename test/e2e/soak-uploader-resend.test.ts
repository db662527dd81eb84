import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { readEvents, startTestStack, type TestStack } from '../helpers/stack.js';

/**
 * Found by the soak (300-chunk run, Redis restart at 70%): chunk seq 215 was uploaded and attached,
 * yet no upload log has a line for it. At a Redis restart a command can be applied while its reply
 * is lost; ioredis then sends it again on the new connection (autoResendUnfulfilledCommands). The
 * upload worker's "record uploaded" script (SETBIT: first recorder wins) answers 0 the second time,
 * so the worker believes another one recorded the chunk and writes no log line.
 *
 * This test cuts the connection right after that script reached a real redis-server (as a restart
 * does), through a TCP proxy, once.
 */
interface CuttingProxy {
  url: string;
  cuts: number;
  close(): Promise<void>;
}

async function startCuttingProxy(target: number, markers: readonly string[]): Promise<CuttingProxy> {
  const sockets = new Set<Socket>();
  let armed = true;
  const state = { cuts: 0 };
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    upstream.on('data', (data) => client.write(data));
    client.on('data', (data) => {
      upstream.write(data);
      if (armed && markers.every((marker) => data.includes(marker))) {
        armed = false;
        // Let Redis apply the command, then lose the connection before the reply reaches the client.
        client.pause();
        upstream.removeAllListeners('data');
        setTimeout(() => {
          state.cuts++;
          client.destroy();
          upstream.destroy();
        }, 50);
      }
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    get cuts() {
      return state.cuts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

let stack: TestStack;
beforeEach(async () => {
  stack = await startTestStack();
});
afterEach(async () => {
  await stack.dispose();
});

describe('upload worker, when Redis loses a reply (soak finding)', () => {
  it('logs every uploaded chunk even if its "uploaded" record is sent twice', async () => {
    // The record script (EVAL of SETBIT on the run's :uploaded bitmap), not the GETBIT that checks it.
    const proxy = await startCuttingProxy(stack.redis.port, ['SETBIT', 'wavefier:run:resend:uploaded']);
    try {
      const logDir = join(stack.dir, 'logs');
      const result = await runCli(
        ['upload', '--redis', proxy.url, '--log-dir', logDir, '--run-id', 'resend', '--dataset', 'ds-resend', '--rse', 'LAKE_S3',
          '--source', 'synthetic', '--count', '6', '--as-fast-as-possible', '--workers', '1', '--drain-timeout', '20s'],
        { env: stack.env, timeoutMs: 60_000 },
      );
      expect(proxy.cuts).toBe(1);
      const uploaded = (await readEvents(join(logDir, 'resend'), 'upload')).filter((event) => event.event === 'uploaded').map((event) => event.seq);
      // Every chunk is in the dataset...
      const listed: string[] = [];
      for await (const entry of stack.rucio.listContent('wavefier', 'ds-resend')) listed.push(entry.name);
      expect(listed).toHaveLength(6);
      // ...and every one has its line in the upload log.
      expect([...new Set(uploaded)].sort(), result.stderr.slice(-2000)).toEqual([0, 1, 2, 3, 4, 5]);
    } finally {
      await proxy.close();
    }
  }, 90_000);
});
