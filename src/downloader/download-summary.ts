import type { PollCounters } from './poll-schedule.js';
import type { DownloadStats, LatencyPercentiles } from './run-progress.js';

// The run's result and the counts of its run_finished log line come from the same stats: built here,
// side by side, so the summary a user sees and the log the report reads cannot drift apart.
export interface DownloadSummary {
  scope: string;
  dataset: string;
  detected: number;
  /** Files verified (chunks and foreign files). */
  verified: number;
  /** Of them, files that are not wavefier chunks. */
  foreign: number;
  /** Chunks never read intact (every read of every round corrupted). */
  corrupted: number;
  /** Reads whose bytes differed from the catalog, one log line each. */
  corruptedReads: number;
  chunksWithCorruptedRead: number;
  /** Chunks whose bytes match the catalog but are not a valid chunk. */
  invalid: number;
  failed: number;
  alreadyVerified: number;
  /** Chunks handed to the workers and not finished when the run stopped. */
  inFlight: number;
  polls: number;
  /** Polls that found new files, and polls that found nothing. */
  pollHits: number;
  pollMisses: number;
  pollRequests: number;
  pollErrors: number;
  stopReason: string;
  /** Who fetched and verified the chunks ("this process, 2 at a time", "3 worker processes"), and why when chosen. */
  verifiedBy: string;
  logFile: string;
  wallMs: number;
  totalLatencyMs: LatencyPercentiles;
}

export interface DownloadRunEnd {
  scope: string;
  dataset: string;
  alreadyVerified: number;
  inFlight: number;
  pollCounters: Readonly<PollCounters>;
  stopReason: string;
  verifiedBy: string;
  logFile: string;
  wallMs: number;
}

export function downloadSummary(stats: DownloadStats, end: DownloadRunEnd): DownloadSummary {
  return {
    scope: end.scope,
    dataset: end.dataset,
    detected: stats.detected,
    verified: stats.verified,
    foreign: stats.foreign,
    corrupted: stats.corruptedFinal,
    corruptedReads: stats.corruptedReads,
    chunksWithCorruptedRead: stats.chunksWithCorruptedRead,
    invalid: stats.invalidFinal,
    failed: stats.failedFinal,
    alreadyVerified: end.alreadyVerified,
    inFlight: end.inFlight,
    polls: stats.polls,
    pollHits: end.pollCounters.hits,
    pollMisses: end.pollCounters.misses,
    pollRequests: stats.pollRequests,
    pollErrors: stats.pollErrors,
    stopReason: end.stopReason,
    verifiedBy: end.verifiedBy,
    logFile: end.logFile,
    wallMs: end.wallMs,
    totalLatencyMs: stats.latency(),
  };
}

/** The `counts` of the run_finished log line, in the log's snake_case names. */
export function runFinishedCounts(stats: DownloadStats, inFlight: number, pollCounters: Readonly<PollCounters>) {
  return {
    detected: stats.detected,
    verified: stats.verified,
    foreign: stats.foreign,
    corrupted: stats.corruptedFinal,
    corrupted_reads: stats.corruptedReads,
    chunks_with_corrupted_read: stats.chunksWithCorruptedRead,
    invalid: stats.invalidFinal,
    failed: stats.failedFinal,
    in_flight: inFlight,
    polls: stats.polls,
    poll_hits: pollCounters.hits,
    poll_misses: pollCounters.misses,
    poll_requests: stats.pollRequests,
    poll_errors: stats.pollErrors,
  };
}
