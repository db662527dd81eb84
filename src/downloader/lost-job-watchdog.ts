import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { errorMessage } from '../common/errors.js';
import type { EventLog } from '../common/event-log.js';
import type { PendingChunk } from './chunk-executor.js';
import { downloadJobId } from './download-job.js';

/** A pending chunk whose job has been gone from the queue this long without an outcome is queued again. */
export const lostJobCheckAfterMs = 5_000;
/** In flight this long (several times the retry backoff of a healthy run) is worth a note in the log. */
export const longPendingReportMs = 30_000;
/** How often the watchdog looks, at most (it runs after every poll). */
const watchdogEveryMs = 2000;

/** The pending chunks old enough for the watchdog to look for their jobs. */
export function chunksToCheck(pending: ReadonlyMap<string, PendingChunk>, now: number): [string, PendingChunk][] {
  return [...pending.entries()].filter(([, chunk]) => now - chunk.queuedAt >= lostJobCheckAfterMs);
}

export interface JobCheck {
  /** The job's hash is still in Redis. */
  jobExists: boolean;
  /** The job was missing at the previous look too, with the chunk pending as it is now. */
  missingBefore: boolean;
  /** The chunk is still pending as it was when the check began (no outcome arrived meanwhile). */
  unchanged: boolean;
  inFlightMs: number;
  alreadyReported: boolean;
}

/**
 * What to do about one checked chunk: queue it again when its job is gone and no outcome arrived at
 * two looks in a row (the job vanished, its outcome never will), remember it as a suspect at the
 * first; note it in the log once when its job is still there after {@link longPendingReportMs};
 * otherwise nothing.
 */
export function lostJobAction(check: JobCheck): 'requeue' | 'suspect' | 'report' | 'none' {
  if (check.jobExists) return check.inFlightMs >= longPendingReportMs && !check.alreadyReported ? 'report' : 'none';
  // Its outcome may have arrived while the check was on its way: then the job is gone because it finished.
  if (!check.unchanged) return 'none';
  // A finished job leaves Redis before its answer has been read from the event stream: gone at one
  // look may be an answer on its way. Gone at two looks, with still no answer, it is lost.
  return check.missingBefore ? 'requeue' : 'suspect';
}

export interface LostJobWatchdogOptions {
  /** The coordinator's pending chunks, read only. */
  pending: ReadonlyMap<string, PendingChunk>;
  queue: Queue;
  /** A plain connection to the queue's Redis, for checks BullMQ has no call for. */
  redis: Redis;
  scope: string;
  log: EventLog;
  requeue: (chunk: PendingChunk) => Promise<void>;
  now: () => number;
}

/**
 * A job can vanish without an outcome reaching us: a worker's completion command re-sent after a
 * Redis connection broke finds the job already removed, and BullMQ then reports only an error.
 * Such chunks are queued again (their first download was never logged, so nothing is counted twice).
 */
export class LostJobWatchdog {
  private lastCheckAt = 0;
  private readonly reportedLongPending = new Set<string>();
  /** Chunks whose job was missing at the last look, as they were pending then. */
  private suspects = new Map<string, PendingChunk>();

  constructor(private readonly options: LostJobWatchdogOptions) {}

  /** Looks for lost jobs when {@link watchdogEveryMs} has passed since the last look. */
  async check(): Promise<void> {
    const { pending, log, now: clock } = this.options;
    const now = clock();
    if (now - this.lastCheckAt < watchdogEveryMs) return;
    this.lastCheckAt = now;
    const old = chunksToCheck(pending, now);
    if (old.length === 0) {
      this.suspects.clear();
      return;
    }
    const exists = await this.jobsExist(old);
    const suspects = new Map<string, PendingChunk>();
    for (const [index, [name, chunk]] of old.entries()) {
      const action = lostJobAction({
        jobExists: exists[index] ?? true,
        missingBefore: this.suspects.get(name) === chunk,
        unchanged: pending.get(name) === chunk,
        inFlightMs: now - chunk.queuedAt,
        alreadyReported: this.reportedLongPending.has(name),
      });
      if (action === 'report') {
        await this.reportLongPending(name, chunk, now);
      } else if (action === 'suspect') {
        suspects.set(name, chunk);
      } else if (action === 'requeue') {
        log.diagnostic('warn', 'a download job vanished without an outcome; queuing the chunk again', { name });
        await this.options.requeue(chunk);
      }
    }
    this.suspects = suspects;
  }

  /** One round trip for all of them: does each job's hash still exist? An unclear answer counts as yes. */
  private async jobsExist(chunks: [string, PendingChunk][]): Promise<boolean[]> {
    const { redis, queue, scope } = this.options;
    const pipeline = redis.pipeline();
    for (const [name, chunk] of chunks) pipeline.exists(queue.toKey(downloadJobId(scope, name, chunk.corruptions)));
    const answers = (await pipeline.exec()) ?? [];
    return chunks.map((_chunk, index) => answers[index]?.[1] !== 0);
  }

  /**
   * A chunk in flight far longer than any retry schedule explains is logged once with its job's
   * BullMQ state, so that a run that stalls on it says where it is stuck.
   */
  private async reportLongPending(name: string, chunk: PendingChunk, now: number): Promise<void> {
    this.reportedLongPending.add(name);
    const jobId = downloadJobId(this.options.scope, name, chunk.corruptions);
    const state = await this.options.queue.getJobState(jobId).catch((error: unknown) => `unknown (${errorMessage(error)})`);
    this.options.log.diagnostic('warn', 'a chunk has been in flight for long; its download job is still in Redis', {
      name,
      job: jobId,
      state,
      in_flight_ms: now - chunk.queuedAt,
    });
  }
}
