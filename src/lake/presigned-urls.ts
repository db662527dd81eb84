import { maxPresignedSeconds } from './sigv4.js';

/**
 * Presigned URLs handed out again for a minute. Rucio signs every listed PFN of a sign_url RSE at
 * every listing, and a consumer polling every 250 ms lists each new file several times (its
 * look-back spans Rucio's one-second `updated_after` resolution): signing once per file and minute
 * saves most of the signatures (about 0.1 ms each). A URL is signed for its lifetime plus the
 * minute, so one handed out again later is still valid for at least the lifetime asked for.
 */
export class PresignedUrls {
  private static readonly reuseMs = 59_000;
  private static readonly limit = 8_192;
  private readonly urls = new Map<string, { url: string; signedAt: number }>();

  /** The X-Amz-Expires to sign with: the lifetime plus the reuse window, within S3's 7 days. */
  expiresFor(lifetimeSeconds: number): number {
    const extended = lifetimeSeconds + Math.ceil(PresignedUrls.reuseMs / 1000) + 1;
    return extended <= maxPresignedSeconds ? extended : lifetimeSeconds;
  }

  get(op: string, pfn: string, lifetimeSeconds: number, now = Date.now()): string | undefined {
    const entry = this.urls.get(`${op} ${lifetimeSeconds} ${pfn}`);
    return entry !== undefined && now - entry.signedAt < PresignedUrls.reuseMs ? entry.url : undefined;
  }

  set(op: string, pfn: string, lifetimeSeconds: number, url: string, signedAt: number): void {
    const key = `${op} ${lifetimeSeconds} ${pfn}`;
    // Re-inserted at the end, so that the map stays in signing order and the oldest come first.
    this.urls.delete(key);
    // A URL past its minute is never handed out again: dropped, so that the map holds one minute of
    // files (60 at 1 Hz) rather than filling up to the limit over hours (~700 bytes each, ~5.5 MB
    // full). The limit still bounds a minute of a very fast stream.
    for (const [oldest, entry] of this.urls) {
      if (this.urls.size < PresignedUrls.limit && signedAt - entry.signedAt < PresignedUrls.reuseMs) break;
      this.urls.delete(oldest);
    }
    this.urls.set(key, { url, signedAt });
  }

  /** URLs kept for reuse now. */
  get size(): number {
    return this.urls.size;
  }

  clear(): void {
    this.urls.clear();
  }
}
