import { setTimeout as sleep } from 'node:timers/promises';
import type { Job, Queue } from 'bullmq';
import type { ReplicaRecord } from '../rucio/index.js';
import { downloadJobFor, downloadJobOptions, parseDownloadJob, type ChunkOutcome, type JobSettings } from './download-job.js';
import type { OutcomeLog } from './outcome-log.js';
import type { DownloadStats } from './run-progress.js';

/** A chunk handed to the workers and not yet finished. */
export interface PendingChunk {
  tDetected: number;
  replica: ReplicaRecord;
  corruptions: number;
  /** When its job was (last) added to the queue. */
  queuedAt: number;
}

export interface CoordinatorOptions {
  /** The run's own download queue, which its workers serve. */
  queue: Queue;
  jobs: JobSettings;
  /** Reads of a corrupted chunk after the first before it is given up on. */
  corruptionRetries: number;
  outcomes: OutcomeLog;
  stats: DownloadStats;
  now: () => number;
}

/** A corrupted chunk is read again after this times the number of corruptions seen so far. */
const corruptionRetryDelayMs = 1000;

/**
 * Takes each new chunk from detection to its outcome: queues its job, keeps it as pending until a
 * worker answers, counts and logs the outcome, and queues a corrupted chunk again (another replica, or
 * the same one after a delay) until it is verified or given up on. Corrupted chunks are never written
 * as good; chunks that fail for good are logged and counted.
 */
export class Coordinator {
  /** Chunks handed to the workers and not finished, by name. */
  readonly pending = new Map<string, PendingChunk>();

  constructor(private readonly options: CoordinatorOptions) {}

  /** A poll's new files in one round trip: one by one costs ~0.1 ms more CPU per file (BullMQ). */
  async dispatch(replicas: ReplicaRecord[], tDetected: number): Promise<void> {
    if (replicas.length === 0) return;
    const { queue, jobs, now } = this.options;
    // Pending before queued: a worker's outcome can arrive before addBulk's reply does.
    for (const replica of replicas) this.pending.set(replica.name, { tDetected, replica, corruptions: 0, queuedAt: now() });
    try {
      await queue.addBulk(
        replicas.map((replica) => ({ name: 'chunk', data: downloadJobFor(jobs, replica, tDetected, 0), opts: downloadJobOptions(jobs, replica.name, 0, 0) })),
      );
    } catch (error) {
      for (const replica of replicas) this.pending.delete(replica.name);
      throw error;
    }
    this.options.stats.detected += replicas.length;
  }

  /** Queues a pending chunk's job again, as it was (the lost-job watchdog found it gone). */
  requeue(chunk: PendingChunk): Promise<void> {
    return this.enqueue(chunk.replica, chunk.tDetected, chunk.corruptions, 0);
  }

  /** A worker's answer for a chunk job (not a warm-up job). */
  completed(job: Job, outcome: ChunkOutcome): void {
    const data = parseDownloadJob(job.data);
    const pending = this.pending.get(data.name);
    if (!pending) return;
    const { outcomes, stats, now } = this.options;
    const context = { job: data, tDetected: pending.tDetected, attempts: job.attemptsMade + 1 + pending.corruptions };
    if (outcome.status === 'verified') {
      this.pending.delete(data.name);
      stats.recordVerified(outcome.tAvail === undefined ? undefined : outcome.tVerified - outcome.tAvail, now());
      outcomes.verified(context, outcome);
      return;
    }
    stats.corruptionEvents++;
    outcomes.corrupted(context, outcome);
    if (pending.corruptions < this.options.corruptionRetries) {
      // The bytes may have been damaged in transit, or a good replica may appear: try again later.
      const corruptions = pending.corruptions + 1;
      this.enqueue(pending.replica, pending.tDetected, corruptions, corruptionRetryDelayMs * corruptions).catch((error: unknown) =>
        outcomes.retryNotQueued(data.name, error),
      );
    } else {
      this.pending.delete(data.name);
      stats.corruptedFinal++;
    }
  }

  /** A job attempt that threw: BullMQ retries it until its attempts are used up. */
  failed(job: Job, error: Error): void {
    const data = parseDownloadJob(job.data);
    const pending = this.pending.get(data.name);
    if (!pending) return;
    const { outcomes } = this.options;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1);
    if (!final) {
      outcomes.retrying(data.name, job.attemptsMade, error);
      return;
    }
    this.pending.delete(data.name);
    this.options.stats.failedFinal++;
    outcomes.failed({ job: data, tDetected: pending.tDetected, attempts: job.attemptsMade + pending.corruptions }, job.attemptsMade, error);
  }

  /** Waits for the chunks in flight, up to `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    const { now } = this.options;
    const deadline = now() + timeoutMs;
    while (this.pending.size > 0 && now() < deadline) await sleep(20);
  }

  private async enqueue(replica: ReplicaRecord, tDetected: number, corruptions: number, delayMs: number): Promise<void> {
    const { queue, jobs, now } = this.options;
    await queue.add('chunk', downloadJobFor(jobs, replica, tDetected, corruptions), downloadJobOptions(jobs, replica.name, corruptions, delayMs));
    this.pending.set(replica.name, { tDetected, replica, corruptions, queuedAt: now() + delayMs });
  }
}
