import { Redis, type RedisOptions } from 'ioredis';
import type { RedisOptions as BullmqRedisOptions } from 'bullmq';
import { definedProps } from '../common/defined.js';
import { UnavailableError } from '../common/errors.js';
import { redactUrl } from '../common/redact.js';
import { withinTime } from '../common/time-limit.js';
import { validateRedisUrl } from './url.js';

export interface ConnectOptions {
  /** How long to wait for the first PING before giving up with a clear error. */
  timeoutMs?: number;
  /** BullMQ workers and blocking connections need `maxRetriesPerRequest: null`. */
  forBullmq?: boolean;
}


/** ioredis options for `url`, shared by every connection wavefier opens. */
export function redisOptions(url: string, options: ConnectOptions = {}): RedisOptions & { host: string; port: number } {
  const parsed = validateRedisUrl(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname,
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    db: Number.isInteger(db) ? db : 0,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: options.forBullmq ? null : 20,
    // Reconnect forever with a capped delay: a Redis restart mid-run must not end the run.
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
    enableReadyCheck: true,
    connectionName: 'wavefier',
  };
}

/**
 * Opens a connection and proves it works with a PING, so an unreachable Redis is reported once, at
 * start, with what to do (instead of as endless reconnect attempts).
 */
export async function connectRedis(url: string, options: ConnectOptions = {}): Promise<Redis> {
  const client = new Redis({ ...redisOptions(url, options), lazyConnect: true });
  const timeoutMs = options.timeoutMs ?? 5000;
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    await withTimeout(client.connect().then(() => client.ping()), timeoutMs);
    return client;
  } catch (error) {
    client.disconnect();
    const reason = lastError?.message ?? (error instanceof Error ? error.message : String(error));
    throw new UnavailableError(
      `cannot reach Redis at ${redactUrl(url)} (${reason}): start redis-server there, fix --redis, or omit --redis to let wavefier start a private one`,
      { cause: error },
    );
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return withinTime(promise, ms, () => {
    throw new Error(`no answer within ${ms} ms`);
  });
}

/** Connection settings in BullMQ's own option type (it creates and owns the connections). */
export function bullmqConnection(url: string): BullmqRedisOptions {
  const { host, port, db, username, password, tls, retryStrategy } = redisOptions(url, { forBullmq: true });
  return {
    host,
    port,
    ...definedProps({ db, username, password, tls }),
    maxRetriesPerRequest: null,
    ...(typeof retryStrategy === 'function' ? { retryStrategy: (times: number) => retryStrategy(times) ?? null } : {}),
  };
}
