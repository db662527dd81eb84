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
    // Bounded: a minute of a fast stream's files; the oldest go first.
    if (this.urls.size >= PresignedUrls.limit) {
      const oldest = this.urls.keys().next().value;
      if (oldest !== undefined) this.urls.delete(oldest);
    }
    this.urls.set(`${op} ${lifetimeSeconds} ${pfn}`, { url, signedAt });
  }

  clear(): void {
    this.urls.clear();
  }
}
