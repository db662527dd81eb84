import type { DownloadJob, WorkerAnswer } from './download-job.js';
import type { ReplicaRecord } from '../rucio/index.js';
import type { ChunkShapeAnnouncement } from '../common/stream-schedule.js';

/** A chunk handed to the executor and not yet finished. */
export interface PendingChunk {
  tDetected: number;
  replica: ReplicaRecord;
  corruptions: number;
  /** Reads of it by earlier jobs (each corrupted read is numbered among all of them). */
  reads: number;
  /** When its job was (last) added to the queue. */
  queuedAt: number;
}

/** One chunk's job handed to an executor; `delayMs` holds it back (a corrupted chunk read again later). */
export interface ExecutorJob {
  data: DownloadJob;
  delayMs: number;
}

/** What an executor tells about the chunks it was given: the coordinator. */
export interface ExecutorTarget {
  /** A chunk's outcome (verified, corrupted, invalid). */
  completed(answer: WorkerAnswer): void;
  /** A job that failed for good: its attempts are used up, or no attempt can help. */
  failed(jobId: string, reason: string): void;
  /** The chunks handed out and not finished (read only). */
  readonly pending: ReadonlyMap<string, PendingChunk>;
  /** Hands a pending chunk's job over again, as it was (it was lost). */
  requeue(chunk: PendingChunk): Promise<void>;
}

/** How the `ready` line describes the executor, once it is ready. */
export interface ReadyNote {
  /** Settings of the `ready` log event. */
  settings: Record<string, unknown>;
  /** The end of the human `ready` line: "first poll answered, <text>". */
  text: string;
}

/**
 * Where the coordinator's chunks are fetched and verified: a BullMQ queue served by `download-worker`
 * processes (queue-executor.ts), or the download process itself (in-process-executor.ts). Both retry
 * transient failures with the same back-off, answer each job once (its attempt counted from 1) and
 * leave what is not done after a Ctrl-C to the next run of the download.
 */
export interface ChunkExecutor {
  /** The coordinator that gets the answers; called once, before the first job. */
  attach(target: ExecutorTarget): void;
  /** Takes every job or none (a failure throws; the poll offers the chunks again). */
  add(jobs: readonly ExecutorJob[]): Promise<void>;
  /** After each poll: looks for work that was lost (a vanished queue job). */
  check(): Promise<void>;
  /** Resolves when chunks go through at full speed (workers connected, the verifier compiled), or the signal fires. */
  whenReady(signal: AbortSignal): Promise<void>;
  readyNote(): ReadyNote;
  /** Who verifies, for the summary: "this process, 2 chunks at a time", "3 worker processes on this host". */
  verifiedBy(): string;
  /** After a Ctrl-C: starts no chunk and gives those in flight a short moment; the rest is left for the next run. */
  stopTaking(): Promise<void>;
  /**
   * The producer announced the shape of its chunks: prepares the decoder for them (here, or in the
   * worker processes it tells) so that the first is verified as fast as the rest. Resolves to who
   * prepares ("this process", "2 worker processes"), or undefined when nobody could.
   */
  expectChunkShape?(shape: ChunkShapeAnnouncement): Promise<string | undefined>;
}
