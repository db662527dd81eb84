import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warmUpBullmq } from '../../src/redis/index.js';
import { RucioClient, warmUpStorage } from '../../src/rucio/index.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

/** Every file under `dir`, recursively (the lake's object store). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack.dispose();
});

describe('warming up before the first chunk (real lake and Redis)', () => {
  it('opens the storage of an RSE with one probe of an object that does not exist, storing nothing', async () => {
    const objectsBefore = await filesUnder(join(stack.dir, 'lake', 's3'));
    const client = new RucioClient(stack.config);
    try {
      expect(await warmUpStorage(client, 'LAKE_S3', 'wavefier', 'write')).toBe(true);
      expect(await warmUpStorage(client, 'LAKE_S3', 'wavefier', 'read')).toBe(true);
      // The RSE was described once; each probe is one storage request that is neither a PUT nor a GET.
      expect(client.stats.storage).toEqual({ 's3 STAT': 2 });
    } finally {
      await client.close();
    }
    expect(await filesUnder(join(stack.dir, 'lake', 's3'))).toEqual(objectsBefore);
  });

  it("leaves the probe's storage connection open for the first read", async () => {
    const target = await stack.rucio.storage.writeTarget('LAKE_S3', 'wavefier', 'warm-up-connection.bin');
    await target.store.put(target.pfn, Buffer.from('the first chunk'));
    const client = new RucioClient(stack.config);
    const storage = new URL(stack.config.rseAccounts.LAKE_S3?.endpoint ?? 'http://missing');
    let connected = 0;
    const onConnected = (message: unknown): void => {
      const { connectParams } = message as { connectParams: { hostname: string; port: string } };
      if (connectParams.hostname === storage.hostname && connectParams.port === storage.port) connected++;
    };
    subscribe('undici:client:connected', onConnected);
    try {
      expect(await warmUpStorage(client, 'LAKE_S3', 'wavefier', 'read')).toBe(true);
      const afterProbe = connected;
      expect(afterProbe).toBe(1);
      // The first chunk comes later, once the probe's connection is back in the pool.
      await new Promise((resolve) => setImmediate(resolve));
      const store = await client.storage.forPfn('LAKE_S3', target.pfn, 'read');
      expect(Buffer.from(await store.get(target.pfn)).toString()).toBe('the first chunk');
      // The read went over the probe's connection (undici closes one after a HEAD unless told not to).
      expect(connected).toBe(afterProbe);
    } finally {
      unsubscribe('undici:client:connected', onConnected);
      await client.close();
    }
  });

  it('reports an RSE it cannot warm up instead of throwing', async () => {
    expect(await warmUpStorage(stack.rucio, 'NO_SUCH_RSE', 'wavefier', 'read')).toBe(false);
  });

  it('sends a throw-away job through a private queue and leaves nothing of it in Redis', async () => {
    expect(await warmUpBullmq(stack.redis.url, { work: true })).toBe(true);
    expect(await warmUpBullmq(stack.redis.url, { work: false })).toBe(true);
    // As an upload run warms up for its workers: several jobs, each taken by a worker of the run's concurrency.
    expect(await warmUpBullmq(stack.redis.url, { work: true, rounds: 8, concurrency: 4 })).toBe(true);
    const redis = new Redis(stack.redis.url);
    try {
      expect(await redis.keys('*warm-up*')).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('gives up on a Redis that does not answer, without throwing', async () => {
    expect(await warmUpBullmq('redis://127.0.0.1:1', { work: false })).toBe(false);
  }, 20_000);
});
