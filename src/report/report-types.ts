/**
 * The report as pure data: what `buildReport` returns, what `renderText`, `writePlots`, `writeHtml`
 * and `reportToJson` consume. All times are epoch milliseconds, all durations milliseconds.
 */

export type LogSide = 'upload' | 'download';

/** One log file that was read, with what its lines turned out to be. */
export interface LogFileSummary {
  path: string;
  side: LogSide;
  lines: number;
  chunkEvents: number;
  runEvents: number;
  /** Lines without a known event for this side (pino diagnostics, other events): not errors. */
  ignored: number;
  malformed: number;
  /** Host names of the writers of its events (pino's `hostname`), in order of appearance. */
  hosts: string[];
}

/** A line that is not JSON, or a known event that does not match its schema. */
export interface MalformedLine {
  file: string;
  line: number;
  reason: string;
}

export interface WriterCounts {
  side: LogSide;
  counts: Record<string, number>;
  reason: string | undefined;
}

/** What one side (all upload writers, or all download writers) said about itself. */
export interface SideInfo {
  /** Hosts its logs were written on (run and chunk events), in order of appearance. */
  hosts: string[];
  /** run_started lines: one per process (several with upload-worker hosts, or a resumed run). */
  writers: number;
  /** Earliest run_started, latest run_finished, earliest ready (pino times, epoch ms). */
  startedAt: number | undefined;
  readyAt: number | undefined;
  /**
   * The earliest ready line's own `startup_ms`: from the process's start to ready, as the side measured
   * it (the upload writes run_started only once its schedule is fixed, after its set-up; older logs have none).
   */
  startupMs: number | undefined;
  /** The upload's ready line: how long it then waited to be told to start pacing (rehearse waits for its download). */
  waitedMs: number | undefined;
  finishedAt: number | undefined;
  /** run_started's settings, as written (snake_case keys): the first writer's, plus what later ones add. */
  settings: Record<string, unknown>;
}

export interface RunInfo {
  /**
   * The upload run reported (its run id, as its upload log and its chunks say); with download logs
   * alone and no --run, the runs their chunks name.
   */
  id: string;
  /** `only`: the one upload run found; `flag`: --run; `most-recent`: the latest of several; `none`: no upload log. */
  selectedBy: 'only' | 'flag' | 'most-recent' | 'none';
  /** Every upload run found in the logs, most recent first. */
  candidates: string[];
  /** Distinct upload runs of the chunks counted (normally exactly `[id]`). */
  recordRuns: string[];
  scope: string | undefined;
  dataset: string | undefined;
  /** From the upload side's run_started, when present. */
  t0: number | undefined;
  periodMs: number | undefined;
  /** First and last t_avail over all chunks. */
  firstAvail: number | undefined;
  lastAvail: number | undefined;
  /**
   * What each writer process said it counted at run_finished, as written: whether a count is per
   * process or run-wide is the writer's business, so they are not added up.
   */
  writerCounts: WriterCounts[];
  /** What each side's run events said: settings, hosts, start/ready/finish times. */
  sides: Record<LogSide, SideInfo>;
}

export interface Integrity {
  scheduled: number;
  scheduledSource: 'run_started' | 'highest-seq';
  /** Chunks with at least one successful upload event. */
  uploaded: number;
  /** Chunks whose final upload state is failed (never uploaded). */
  failedUploads: number;
  /** Chunks deliberately not sent (final state skipped), by reason. */
  skipped: number;
  skippedByReason: Record<string, number>;
  /** Chunks the pacer flagged late. */
  late: number;
  /** Chunks whose bytes were received at least once (verified, corrupted or invalid). */
  downloaded: number;
  /** Chunks verified and not later found corrupted or invalid. */
  verified: number;
  /** Reads whose bytes differed from the catalog's checksums (one download line each), recovered or not. */
  corruptedReads: number;
  /** Chunks with at least one corrupted read. */
  chunksWithCorruptedRead: number;
  /** Chunks never read intact: their last read was corrupted. */
  corrupted: number;
  /** Chunks whose bytes match the catalog but are not a valid chunk (a content error, not a checksum mismatch). */
  invalid: number;
  /** Chunks with a corrupted read, then verified from a good read. */
  recovered: number;
  /**
   * Uploaded chunks never verified (and not corrupted), except those in flight when a run that was
   * stopped early stopped.
   */
  missing: number;
  /**
   * Run stopped early only: uploaded shortly before the downloader stopped (or after), never
   * downloaded. Neither verified nor lost: the rehearsal ended before it could tell.
   */
  inFlight: number;
  /** Chunks whose last download attempt failed without ever being verified. */
  downloadFailures: number;
  /** Chunks uploaded successfully more than once. */
  duplicateUploads: number;
  /** Chunks verified more than once. */
  duplicateVerifications: number;
  /** Chunks in the download log but not in any upload log (only counted when upload logs exist). */
  notInUploadLog: number;
  /**
   * Files of the dataset that are not wavefier chunks (no chunk attributes) but whose bytes match
   * the catalog: verified and kept, counted on their own, in no chunk count nor latency statistic.
   */
  foreign: number;
  /**
   * Scheduled sequence numbers that appear in no log at all: lost chunks in a complete run, chunks
   * never produced in a run stopped early.
   */
  unaccounted: number;
}

export interface IntegrityLists {
  missing: string[];
  inFlight: string[];
  corrupted: string[];
  invalid: { name: string; error: string | undefined }[];
  recovered: string[];
  failedUploads: { name: string; error: string | undefined }[];
  downloadFailures: { name: string; error: string | undefined }[];
  skipped: { name: string; reason: string }[];
  late: string[];
  duplicateUploads: string[];
  duplicateVerifications: string[];
  notInUploadLog: string[];
  foreign: string[];
  unaccountedSeqs: number[];
}

/**
 * Exact statistics of a set of latencies. The spread people read is around the median: p16 and p84
 * always bracket the median, whereas a skewed tail can pull the mean above p84 (the seed's
 * mean-centred "-x +y" then turns into two minus signs).
 */
export interface LatencyStats {
  count: number;
  mean: number;
  /** p16 - mean: the seed slides' "mean -x +y". Either sign with skewed data; kept for scripts. */
  minus: number;
  /** p84 - mean: either sign with skewed data; kept for scripts. */
  plus: number;
  /** median - p16, never negative: the "-x" of "median -x +y". */
  belowMedian: number;
  /** p84 - median, never negative: the "+y" of "median -x +y". */
  aboveMedian: number;
  min: number;
  p16: number;
  median: number;
  p84: number;
  p90: number;
  p99: number;
  max: number;
}

export const latencyMetrics = ['pacingError', 'upload', 'detection', 'total'] as const;
export type LatencyMetric = (typeof latencyMetrics)[number];

export const latencyLabels: Record<LatencyMetric, string> = {
  pacingError: 'pacing error',
  upload: 'upload latency',
  detection: 'detection delay',
  total: 'total latency',
};

export type LatencyTable = Record<LatencyMetric, LatencyStats | null>;

export interface LatencyWindow {
  index: number;
  /** The window's start as an offset from the origin, at the precision its width needs ("+1:30"). */
  label: string;
  start: number;
  end: number;
  chunks: number;
  latency: LatencyTable;
}

/** Per-chunk samples, ordered by t_avail; NaN where a chunk has no value. For plots and windows. */
export interface LatencySamples {
  tAvail: Float64Array;
  pacingError: Float64Array;
  upload: Float64Array;
  detection: Float64Array;
  total: Float64Array;
}

export type ChunkStatusSymbol = '=' | '-' | '*' | '!' | '+' | '~';

/** Listing entries `--list` shows: not `=` (verified) and not `~` (in flight at a stop: not a loss, `--combined` shows them). */
export function isProblem(entry: { status: ChunkStatusSymbol }): boolean {
  return entry.status !== '=' && entry.status !== '~';
}

/** One line of the rclone-`check --combined`-like listing. */
export interface ChunkListingEntry {
  status: ChunkStatusSymbol;
  name: string;
  /** -1 when no log line gave it (a download event of bytes that did not decode). */
  seq: number;
  run: string;
  detail: string | undefined;
}

/**
 * How one writer's log ends, from its last run event: `finished` (run_finished), `interrupted`
 * (run_finished with reason 'interrupted': a signal or the rehearsal's deadline), `unfinished`
 * (run_started and nothing after: still running, or killed), `none` (no run event, or no log).
 */
export type SideEnding = 'finished' | 'interrupted' | 'unfinished' | 'none';

export interface Completion {
  /**
   * `complete` unless a writer says it was interrupted (`interrupted`) or a log ends without
   * run_finished (`unfinished`). Logs without run events count as complete (nothing says otherwise).
   */
  state: 'complete' | 'interrupted' | 'unfinished';
  upload: SideEnding;
  download: SideEnding;
  /** When the downloader stopped (its last run_finished, else its last event); undefined without a download log. */
  downloadStoppedAt: number | undefined;
  /**
   * Run stopped early only: a chunk uploaded after downloadStoppedAt - graceMs and never downloaded
   * is in flight, not missing. 5 s plus twice the longest upload-to-verified time of the run.
   */
  graceMs: number | undefined;
}

/**
 * `pass`: complete and clean. `fail`: a chunk that was produced is missing, corrupted, invalid or
 * failed to upload (whether or not the run was stopped early), or a complete run has scheduled
 * chunks in no log. `interrupted` / `unfinished`: stopped early (see Completion) with every produced
 * chunk intact. `no-verdict`: one side's logs are missing (no upload log of the run, or no download
 * log), or nothing was uploaded (every chunk skipped): nothing to judge, never a pass.
 */
export type VerdictState = 'pass' | 'fail' | 'interrupted' | 'unfinished' | 'no-verdict';

export interface Verdict {
  /** True for `pass` only. */
  ok: boolean;
  state: VerdictState;
  /** One line: "2 chunks missing, 1 corrupted", "interrupted after 2,000 of 14,400 ..." or the slide sentence of a clean run. */
  summary: string;
  /**
   * 0 pass, 3 fail (integrity), 4 interrupted/unfinished (incomplete but intact), 5 no verdict, 6
   * fail: every chunk intact but a latency objective (--slo) missed.
   */
  exitCode: 0 | 3 | 4 | 5 | 6;
}

/** How a latency objective names its statistic: a percentile (`p99`, `p99.9`, `median` = p50), the mean or the max. */
export type ObjectiveStatistic = { kind: 'percentile'; percentile: number } | { kind: 'mean' } | { kind: 'max' };

/** One latency objective (`--slo total.p99<=2s`): the statistic of a metric over every chunk, at most a threshold. */
export interface LatencyObjective {
  /** Canonical form: "total.p99<=2s". */
  text: string;
  metric: LatencyMetric;
  statistic: ObjectiveStatistic;
  comparison: '<=' | '<';
  thresholdMs: number;
}

export interface ObjectiveResult {
  objective: LatencyObjective;
  /** The statistic over the run's chunks; null when no chunk has a value of the metric. */
  actualMs: number | null;
  /** Met when the statistic satisfies the comparison; a statistic without values is not met. */
  met: boolean;
}

export interface Report {
  run: RunInfo;
  files: LogFileSummary[];
  /** The first `maxMalformedKept` malformed lines (a garbage file must not fill memory). */
  malformed: MalformedLine[];
  /** Every malformed line, including those not kept. */
  malformedCount: number;
  warnings: string[];
  integrity: Integrity;
  lists: IntegrityLists;
  latency: LatencyTable;
  /** `labelPattern`: how the windows' labels read ("h:mm", "m:ss", "m:ss.s"...). */
  windows: { sizeMs: number; origin: number | undefined; labelPattern: string; items: LatencyWindow[] };
  /** The latency objectives given (--slo), each met or missed, in the order given. */
  objectives: ObjectiveResult[];
  /** Whether the writers ran to the end: decides between "missing" and "not produced / in flight". */
  completion: Completion;
  verdict: Verdict;
  /** Every chunk with its rclone-like status, ordered by run, seq and name. */
  listing: ChunkListingEntry[];
  samples: LatencySamples;
}
