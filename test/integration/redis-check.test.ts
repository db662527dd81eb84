import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRedis, freePort, startPrivateRedis, type PrivateRedis } from '../../src/redis/index.js';

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startPrivateRedis();
});
afterAll(async () => {
  await redis.stop();
});

describe('checkRedis (what `wavefier doctor --redis` reports)', () => {
  it('passes when redis-server answers PING', async () => {
    const result = await checkRedis(redis.url);
    expect(result).toMatchObject({ ok: true, detail: `${redis.url} answered PONG` });
  });

  it('fails without throwing when nothing listens, and never shows the password', async () => {
    const port = await freePort();
    const result = await checkRedis(`redis://:s3cret@127.0.0.1:${port}`);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(new RegExp(`^redis://\\[redacted\\]@127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    expect(result.detail).not.toContain('s3cret');
  });
});
