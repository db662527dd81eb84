import { UsageError } from '../common/errors.js';
import { redactUrl } from '../common/redact.js';

/**
 * Checks a --redis URL's form. Its own module, without ioredis: a download checks its --redis before
 * it starts worker processes, ahead of loading the Redis client.
 */
export function validateRedisUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`invalid --redis URL '${redactUrl(url)}': expected redis://[user:password@]host:port[/db]`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new UsageError(`invalid --redis URL '${redactUrl(url)}': the scheme must be redis:// or rediss://`);
  }
  return parsed;
}
