import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/** The download runs in progress on a Redis, for `wavefier download-worker` processes on any host to serve. */
const activeDownloadsKey = 'wavefier:downloads:active';
/** A run renews its entry this often; an entry not renewed for {@link staleAfterMs} is a crashed run's. */
const renewEveryMs = 10_000;
const staleAfterMs = 60_000;

const entrySchema = z.object({
  /** The run's own download queue. */
  queue: z.string().min(1),
  /** The download run (its log folder name). */
  run: z.string().min(1),
  scope: z.string(),
  dataset: z.string(),
  /** The catalog the run polls: a worker configured for another one leaves the run alone. */
  rucioHost: z.string(),
  host: z.string(),
  pid: z.number().int(),
  seenAt: z.number(),
});
export type ActiveDownload = z.infer<typeof entrySchema>;

/**
 * The entry of one download run in the registry: written when the run starts, renewed while it
 * runs, removed when it ends. Worker processes started by the run itself do not need it (they are
 * told their queue); extra workers on other hosts find the run here.
 */
export class DownloadRegistration {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly redis: Redis,
    private readonly entry: Omit<ActiveDownload, 'seenAt' | 'host' | 'pid'>,
    private readonly onError: (error: unknown) => void,
  ) {}

  static async register(redis: Redis, entry: Omit<ActiveDownload, 'seenAt' | 'host' | 'pid'>, onError: (error: unknown) => void): Promise<DownloadRegistration> {
    const registration = new DownloadRegistration(redis, entry, onError);
    await registration.renew();
    registration.timer = setInterval(() => {
      registration.renew().catch(onError);
    }, renewEveryMs);
    registration.timer.unref();
    return registration;
  }

  private async renew(): Promise<void> {
    const value: ActiveDownload = { ...this.entry, host: hostname(), pid: process.pid, seenAt: Date.now() };
    await this.redis.hset(activeDownloadsKey, this.entry.queue, JSON.stringify(value));
  }

  async remove(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.hdel(activeDownloadsKey, this.entry.queue).catch(this.onError);
  }
}

/** The download runs in progress (renewed recently); unreadable entries are skipped. */
export async function activeDownloads(redis: Redis, now = Date.now()): Promise<ActiveDownload[]> {
  const raw = await redis.hgetall(activeDownloadsKey);
  const runs: ActiveDownload[] = [];
  for (const text of Object.values(raw)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      continue;
    }
    const parsed = entrySchema.safeParse(value);
    if (parsed.success && now - parsed.data.seenAt <= staleAfterMs) runs.push(parsed.data);
  }
  return runs;
}
