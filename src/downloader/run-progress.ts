import { definedProps } from '../common/defined.js';
import { formatDuration } from '../common/duration.js';
import { SlidingWindow } from '../common/live-stats.js';
import type { Output } from '../common/output.js';

export interface LatencyPercentiles {
  p50?: number;
  p99?: number;
}

/**
 * What a download run has counted so far: the figures of the live progress line, of the final
 * summary and of its `run_finished` line, and the inputs of the stop rules.
 */
export class DownloadStats {
  /** Chunks handed to the workers for the first time. */
  detected = 0;
  verified = 0;
  /** Chunks given up on as corrupted (never read intact, after every corruption retry). */
  corruptedFinal = 0;
  /** Chunks whose bytes match the catalog but are not a valid chunk (content error, not retried). */
  invalidFinal = 0;
  /** Chunks whose download failed for good. */
  failedFinal = 0;
  /** Verified files that are not wavefier chunks (counted in `verified` too). */
  foreign = 0;
  /** Every corrupted read (one download line each), of chunks later verified or not. */
  corruptedReads = 0;
  /** The chunks that had a corrupted read: few (a healthy run has none), so a set of names is cheap. */
  private readonly corruptedNames = new Set<string>();
  polls = 0;
  /** Catalog requests of the polls and of the until-closed probe. */
  pollRequests = 0;
  pollErrors = 0;
  /** When the last poll found a new chunk (at first: when the run began to look); --until-idle counts from it. */
  lastNewAt: number;
  /** Total latency (t_verified - t_avail) of every verified chunk that carries its t_avail. */
  private readonly totals = new SlidingWindow(Number.POSITIVE_INFINITY, 200_000);

  constructor(startedAt: number) {
    this.lastNewAt = startedAt;
  }

  recordVerified(totalLatencyMs: number | undefined, at: number, foreign = false): void {
    this.verified++;
    if (foreign) this.foreign++;
    else if (totalLatencyMs !== undefined) this.totals.add(totalLatencyMs, at);
  }

  recordCorruptRead(name: string): void {
    this.corruptedReads++;
    this.corruptedNames.add(name);
  }

  /** Chunks with at least one corrupted read. */
  get chunksWithCorruptedRead(): number {
    return this.corruptedNames.size;
  }

  latency(): LatencyPercentiles {
    const [p50, p99] = this.totals.percentiles([0.5, 0.99], Number.POSITIVE_INFINITY);
    return definedProps({ p50, p99 });
  }
}

/** The live status line: `inFlight` is the number of chunks handed out and not finished. */
export function progressLine(stats: DownloadStats, inFlight: number): string {
  const latency = stats.latency();
  return (
    `${stats.verified} verified · ${stats.corruptedReads} corrupted reads (${stats.chunksWithCorruptedRead} chunks) · ${stats.failedFinal} failed · ` +
    `${inFlight} in flight · ${stats.polls} polls (${stats.pollErrors} errors) · total latency p50 ` +
    (latency.p50 === undefined ? '-' : formatDuration(latency.p50))
  );
}

/**
 * Shows the progress line: rewritten every second on a terminal, one plain line a minute otherwise
 * (a log file or CI should not fill with status lines).
 */
export function startProgress(output: Output, dataset: string, line: () => string): { stop(): void } {
  const interactive = output.interactive;
  const timer = setInterval(
    () => {
      const text = line();
      if (interactive) output.status(text);
      else output.info(`download ${dataset}: ${text}`);
    },
    interactive ? 1000 : 60_000,
  );
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      output.clearStatus();
    },
  };
}
