import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { errorMessage } from '../common/errors.js';
import { redactUrl } from '../common/redact.js';

export interface RedisCheck {
  ok: boolean;
  /** What answered, or why nothing did; the URL's password is redacted. */
  detail: string;
  ms: number;
}

/**
 * One PING to the Redis at `url` (what `wavefier doctor --redis` reports). No reconnects and no
 * offline queue, so a dead Redis fails within the 2 s connect timeout instead of being retried.
 * Never throws.
 */
export async function checkRedis(url: string): Promise<RedisCheck> {
  const started = performance.now();
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  let lastError: unknown;
  redis.on('error', (error: unknown) => (lastError = error));
  try {
    await redis.connect();
    const answer = await redis.ping();
    return { ok: true, detail: `${redactUrl(url)} answered ${answer}`, ms: performance.now() - started };
  } catch (error) {
    return { ok: false, detail: `${redactUrl(url)}: ${errorMessage(lastError ?? error)}`, ms: performance.now() - started };
  } finally {
    redis.disconnect();
  }
}
