import type { Output } from '../common/output.js';
import type { RucioClient } from '../rucio/index.js';
import type { EarlyStart } from './early-start.js';

// What a caller (the CLI, rehearse, tests) hands runDownload: kept apart from the run's orchestration
// so the option surface can be read, and imported, without the whole run.
export interface DownloadRunOptions {
  redisUrl?: string;
  rucio: RucioClient;
  /** Plain Rucio settings handed to worker processes through their environment. */
  workerRucioSettings: unknown;
  /** Environment of the worker processes (default: this process's). */
  workerEnv?: NodeJS.ProcessEnv;
  scope: string;
  dataset: string;
  /** Destination directory; with `keep: 'none'` files are verified in memory and not written. */
  dest?: string;
  subdir: boolean;
  keep: 'all' | 'none';
  /**
   * Worker processes started on this host (`wavefier download-worker`); more can join from other hosts.
   * 0 without `redisUrl`: the chunks are fetched and verified in this process (no Redis, no queue).
   */
  workers: number;
  /** Why `workers` is what it is, when the caller chose it (a dataset closed at the start): logged and said. */
  workersChoice?: string;
  /** The dataset as the catalog described it just before the run (--until-closed starts from it). */
  datasetAtStart?: DatasetAtStart;
  /** Chunks each worker process fetches at the same time. */
  workerConcurrency?: number;
  /**
   * `phase-locked` (incremental polls just after each predicted arrival), `incremental` (incremental
   * polls every interval) or `full` (the whole dataset listed every interval).
   */
  pollMode: DownloadPollMode;
  pollIntervalMs: number;
  reconcileEveryMs: number;
  /** The resolution of the catalog's replica update times (default 1 s, Rucio's on Oracle and MySQL). */
  catalogResolutionMs?: number;
  fromRse?: string;
  untilCount?: number;
  untilIdleMs?: number;
  untilClosed: boolean;
  durationMs?: number;
  attempts: number;
  corruptionRetries: number;
  /** Give up (exit 1) when the catalog has not answered for this long; default defaultGiveUpAfterMs. */
  giveUpAfterMs?: number;
  logDir: string;
  /** Name of the log directory under logDir; defaults to the dataset's name (see downloadLogFolder). */
  runName?: string;
  /**
   * The producer's schedule, as a line to come (common/stream-schedule.ts; undefined if none came):
   * the phase-locked schedule polls for chunk 0 when it is due (rehearse relays its upload's).
   */
  announcedSchedule?: Promise<string | undefined>;
  signal: AbortSignal;
  output: Output;
  now?: () => number;
  /**
   * The private Redis, worker processes and queue name of startDownloadEarly (the CLI starts them
   * before it loads the run's modules): taken over instead of started here; stopped at the end.
   */
  early?: EarlyStart;
}

/** What the catalog said of the dataset, and when it was asked. */
export interface DatasetAtStart {
  open: boolean;
  length: number | undefined;
  askedAt: number;
}

export type DownloadPollMode = 'phase-locked' | 'incremental' | 'full';
