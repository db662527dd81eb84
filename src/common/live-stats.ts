/**
 * Percentiles over a sliding time window, for live status lines ("upload p50/p99 over the last
 * minute"). Exact percentiles for a report come from the raw logs; this only has to be cheap and
 * bounded: samples older than the window are dropped, and at most `maxSamples` are kept.
 */
export class SlidingWindow {
  private times: number[] = [];
  private values: number[] = [];
  private start = 0;

  constructor(
    private readonly windowMs: number,
    private readonly maxSamples = 100_000,
  ) {}

  add(value: number, at: number = Date.now()): void {
    this.times.push(at);
    this.values.push(value);
    if (this.times.length - this.start > this.maxSamples) this.start++;
    this.compactIfNeeded();
  }

  /** Values within the window ending at `now`, sorted ascending. */
  private current(now: number): number[] {
    const cutoff = now - this.windowMs;
    while (this.start < this.times.length && (this.times[this.start] ?? 0) < cutoff) this.start++;
    this.compactIfNeeded();
    return this.values.slice(this.start).sort((a, b) => a - b);
  }

  percentiles(quantiles: readonly number[], now: number = Date.now()): (number | undefined)[] {
    const sorted = this.current(now);
    return quantiles.map((q) => quantile(sorted, q));
  }

  count(now: number = Date.now()): number {
    return this.current(now).length;
  }

  private compactIfNeeded(): void {
    if (this.start > 4096 && this.start * 2 > this.times.length) {
      this.times = this.times.slice(this.start);
      this.values = this.values.slice(this.start);
      this.start = 0;
    }
  }
}

/** The q-quantile (0..1) of ascending `sorted` values, nearest-rank; undefined when empty. */
export function quantile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}
