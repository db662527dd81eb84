import { definedProps } from '../common/defined.js';
import { SlidingWindow } from '../common/live-stats.js';
import type { UploadChunkEvent } from '../common/log-records.js';

/** Percentiles (and the maximum) of a timing in milliseconds; a key is absent until there is a value. */
export interface TimingPercentiles {
  p50?: number;
  p99?: number;
  max?: number;
}

/** Live statistics of this process: pacing error and upload latency, over the last minute and the run. */
export class RunStats {
  readonly pacing = new TimingSummary();
  readonly upload = new TimingSummary();

  constructor(private readonly now: () => number) {}

  /** A chunk went onto the queue this long after its due time. */
  enqueued(pacingErrorMs: number): void {
    this.pacing.add(pacingErrorMs, this.now());
  }

  /** A chunk finished in this process; only uploads have a latency (from t_avail to t_uploaded). */
  outcome(event: UploadChunkEvent): void {
    if (event.event === 'uploaded' && event.t_uploaded !== undefined) {
      this.upload.add(event.t_uploaded - event.t_avail, this.now());
    }
  }
}

/** One timing, over the last minute (for the progress line) and over the whole run (for the summary). */
export class TimingSummary {
  private readonly lastMinute = new SlidingWindow(60_000);
  private readonly whole = new SlidingWindow(Number.POSITIVE_INFINITY, 200_000);
  private maximum: number | undefined;

  add(value: number, at: number): void {
    this.lastMinute.add(value, at);
    this.whole.add(value, at);
    this.maximum = this.maximum === undefined ? value : Math.max(this.maximum, value);
  }

  recent(now: number): Omit<TimingPercentiles, 'max'> {
    const [p50, p99] = this.lastMinute.percentiles([0.5, 0.99], now);
    return definedProps({ p50, p99 });
  }

  summary(): TimingPercentiles {
    const [p50, p99] = this.whole.percentiles([0.5, 0.99], Number.POSITIVE_INFINITY);
    return definedProps({ p50, p99, max: this.maximum });
  }
}
