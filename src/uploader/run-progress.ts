import { formatDuration } from '../common/duration.js';
import type { Output } from '../common/output.js';
import type { RunSettings } from './run-plan.js';
import type { RunState } from './run-state.js';
import type { RunStats } from './run-stats.js';

/** How many chunks had finished at a moment: the rate of an unpaced run is measured between two. */
export interface DoneAt {
  done: number;
  at: number;
}

/**
 * Time left in a run: a paced run ends with its schedule; an unpaced one at the rate seen since
 * `since` (undefined until a chunk has finished).
 */
export function remainingTimeMs(
  settings: Pick<RunSettings, 't0' | 'count' | 'intervalMs'>,
  remaining: number,
  now: DoneAt,
  since: DoneAt,
): number | undefined {
  if (settings.intervalMs > 0) return Math.max(0, settings.t0 + (settings.count ?? 0) * settings.intervalMs - now.at);
  const rate = (now.done - since.done) / (now.at - since.at);
  return rate > 0 && Number.isFinite(rate) ? Math.max(0, remaining) / rate : undefined;
}

export interface ProgressView {
  /** The run's outcome counters across every process (RunState.counts). */
  counts: Record<string, number>;
  /** Chunks enqueued by this process that no worker has finished yet. */
  inQueue: number;
  stats: RunStats;
  settings: Pick<RunSettings, 't0' | 'count' | 'intervalMs'>;
  /** Where this process's part of the run started, for the rate of an unpaced run. */
  first: DoneAt;
  now: number;
}

/** The one-line progress of a run: outcomes, queue depth, last-minute timings and the time left. */
export function progressLine(view: ProgressView): string {
  const { counts, stats, settings, now } = view;
  const ms = (value: number | undefined): string => (value === undefined ? '-' : formatDuration(value));
  const pacing = stats.pacing.recent(now);
  const upload = stats.upload.recent(now);
  const done = (counts.uploaded ?? 0) + (counts.failed ?? 0) + (counts.skipped ?? 0);
  const total = settings.count;
  const eta = total === undefined ? '' : ` · ETA ${ms(remainingTimeMs(settings, total - done, { done, at: now }, view.first))}`;
  return (
    `${counts.uploaded ?? 0}${total === undefined ? '' : `/${total}`} uploaded · ${counts.failed ?? 0} failed · ` +
    `${counts.skipped ?? 0} skipped · ${counts.late ?? 0} late · ${Math.max(0, view.inQueue)} queued · pacing p50 ${ms(pacing.p50)} p99 ${ms(pacing.p99)} · ` +
    `upload p50 ${ms(upload.p50)} p99 ${ms(upload.p99)} (last min) · ${done} done${eta}`
  );
}

/**
 * Shows the progress line: rewritten every second on a terminal, logged once a minute otherwise.
 * `inQueue` turns the run's counters into this process's queue depth (Producer.inQueue).
 */
export function startProgress(
  output: Output,
  stats: RunStats,
  settings: RunSettings,
  state: RunState,
  inQueue: (counts: Record<string, number>) => number,
  doneAtStart: number,
): { stop(): void } {
  // The rate is measured from the start of this process's part of the run.
  const first = { done: doneAtStart, at: Date.now() };
  const line = async (): Promise<string> => {
    const counts = await state.counts();
    return progressLine({ counts, inQueue: inQueue(counts), stats, settings, first, now: Date.now() });
  };
  const interactive = output.interactive;
  const everyMs = interactive ? 1000 : 60_000;
  const timer = setInterval(() => {
    line()
      .then((text) => (interactive ? output.status(text) : output.info(`upload ${settings.runId}: ${text}`)))
      .catch(() => undefined);
  }, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      output.clearStatus();
    },
  };
}
