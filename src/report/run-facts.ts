import type { RunEvent } from '../common/log-records.js';
import type { ChunkState } from './chunk-state.js';
import type { Completion, LogSide, SideEnding, WriterCounts } from './report-types.js';

/** The last run event of one side: by its time, then by reading order. */
export interface LastRunEvent {
  kind: RunEvent['event'];
  reason: string | undefined;
  time: number;
  order: number;
}

export interface RunFacts {
  scheduled: number | undefined;
  t0: number | undefined;
  periodMs: number | undefined;
  scope: string | undefined;
  dataset: string | undefined;
  writerCounts: WriterCounts[];
  lastRunEvent: Record<LogSide, LastRunEvent | undefined>;
  /** Latest time of any download chunk event: where a download log without run_finished stops. */
  lastDownloadEventTime: number;
}

/** In a run stopped early, how long before the downloader stopped an upload may be and still be in flight, besides twice the run's longest upload-to-verified time. */
const inFlightMarginMs = 5000;

export function newRunFacts(): RunFacts {
  return {
      scheduled: undefined,
      t0: undefined,
      periodMs: undefined,
      scope: undefined,
      dataset: undefined,
      writerCounts: [],
      lastRunEvent: { upload: undefined, download: undefined },
      lastDownloadEventTime: Number.NEGATIVE_INFINITY,
  };
}

/** Takes a run event of `run` (undefined: of any run) into the facts. */
export function recordRunEvent(facts: RunFacts, run: string | undefined, event: RunEvent, time: number | undefined, order: number): void {
  // Upload run events name the run; a download log's run events name its folder, so they are
  // taken when they are about the run's dataset (the reader already left out other datasets).
  if (event.side === 'upload' && run !== undefined && event.run !== run) return;
  if (event.side === 'download' && facts.dataset !== undefined && event.dataset !== undefined && event.dataset !== facts.dataset) return;
  const last = facts.lastRunEvent[event.side];
  const at = time ?? Number.NaN;
  // Without times (hand-written logs), reading order decides.
  const isLater = last === undefined || (Number.isFinite(at) && Number.isFinite(last.time) && at !== last.time ? at > last.time : order > last.order);
  if (isLater) facts.lastRunEvent[event.side] = { kind: event.event, reason: event.reason, time: at, order };
  if (event.side === 'upload') {
    facts.scope ??= event.scope;
    facts.dataset ??= event.dataset;
  }
  if (event.event === 'run_started' && event.side === 'upload') {
    if (event.scheduled !== undefined) facts.scheduled = Math.max(facts.scheduled ?? 0, event.scheduled);
    if (event.t0 !== undefined) facts.t0 = Math.min(facts.t0 ?? Number.POSITIVE_INFINITY, event.t0);
    facts.periodMs ??= event.period_ms;
  }
  if (event.event === 'run_finished' && event.counts) {
    facts.writerCounts.push({ side: event.side, counts: event.counts, reason: event.reason });
  }
}

/**
 * Whether the writers ran to the end and, if not, when the downloader stopped and how long before
 * that an upload may be and still count as in flight.
 */
export function completionOf(facts: RunFacts, chunks: readonly ChunkState[], haveDownloadLog: boolean, asOf: number | undefined): Completion {
  const upload = endingOf(facts.lastRunEvent.upload);
  const download = endingOf(facts.lastRunEvent.download);
  const state = upload === 'interrupted' || download === 'interrupted' ? 'interrupted' : upload === 'unfinished' || download === 'unfinished' ? 'unfinished' : 'complete';
  const last = facts.lastRunEvent.download;
  const finishedAt = last?.kind === 'run_finished' && Number.isFinite(last.time) ? last.time : Number.NaN;
  const stoppedAt = asOf ?? (Number.isFinite(finishedAt) ? finishedAt : facts.lastDownloadEventTime);
  const downloadStoppedAt = haveDownloadLog && Number.isFinite(stoppedAt) ? stoppedAt : undefined;
  if (state === 'complete' || downloadStoppedAt === undefined) return { state, upload, download, downloadStoppedAt, graceMs: undefined };
  // A downloader with a backlog verifies late: allow twice the worst delay it showed in this run.
  let longest = 0;
  for (const chunk of chunks) {
    const lag = chunk.tVerified - chunk.uploadTime;
    if (chunk.delivered && lag > longest) longest = lag;
  }
  return { state, upload, download, downloadStoppedAt, graceMs: inFlightMarginMs + 2 * longest };
}

function endingOf(last: LastRunEvent | undefined): SideEnding {
  if (last === undefined) return 'none';
  // A side that stopped on an error (a full disk) ended no better than one that crashed.
  if (last.kind === 'run_started' || last.reason === 'failed') return 'unfinished';
  return last.reason === 'interrupted' ? 'interrupted' : 'finished';
}
