import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { definedProps } from '../common/defined.js';
import { errorMessage } from '../common/errors.js';
import type { ReplicaRecord } from '../rucio/index.js';
import type { ChunkExecutor, PendingChunk } from './chunk-executor.js';
import { downloadJobFor, downloadJobId, type JobSettings, type WorkerAnswer } from './download-job.js';
import type { LocalPaths } from './local-paths.js';
import type { OutcomeLog } from './outcome-log.js';
import type { DownloadStats } from './run-progress.js';


export interface CoordinatorOptions {
  /** Where the chunks are fetched and verified: the run's queue and its workers, or this process. */
  executor: ChunkExecutor;
  jobs: JobSettings;
  /** Reads of a corrupted chunk after the first before it is given up on. */
  corruptionRetries: number;
  outcomes: OutcomeLog;
  stats: DownloadStats;
  /** Which DID holds each name and local path: a second DID for one of them is refused before it is queued. */
  paths: LocalPaths;
  /** Told about each verified chunk after it is logged. */
  onVerified?: (answer: WorkerAnswer) => void;
  /** Told after a chunk failed for good (the destination may be why). */
  onFailed?: () => void;
  /** Told after each chunk that is done with (verified or given up on), once it is no longer pending. */
  onSettled?: () => void;
  now: () => number;
}

/**
 * A poll's chunks could not all be handed out: `notQueued` are those to offer again (a chunk refused
 * for good, or answered before the failure showed, is not among them).
 */
export class DispatchFailure extends Error {
  constructor(
    cause: unknown,
    readonly notQueued: readonly ReplicaRecord[],
  ) {
    super(errorMessage(cause), { cause });
    this.name = 'DispatchFailure';
  }
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
  /** The chunk of each job id handed out (a failure event names the job only). */
  private readonly names = new Map<string, string>();

  constructor(private readonly options: CoordinatorOptions) {
    options.executor.attach(this);
  }

  /** A poll's new files in one round trip: one by one costs ~0.1 ms more CPU per file (BullMQ). */
  async dispatch(offered: ReplicaRecord[], tDetected: number): Promise<void> {
    const replicas = offered.filter((replica) => this.claim(replica, tDetected));
    if (replicas.length === 0) return;
    const { executor, jobs, now } = this.options;
    // Pending before queued: a worker's outcome can arrive before addBulk's reply does.
    for (const replica of replicas) {
      this.pending.set(replica.name, { tDetected, replica, corruptions: 0, reads: 0, queuedAt: now() });
      this.names.set(this.jobIdOf(replica.name, 0), replica.name);
    }
    try {
      await executor.add(replicas.map((replica) => ({ data: downloadJobFor(jobs, replica, tDetected, 0), delayMs: 0 })));
    } catch (error) {
      // A failed add may have reached Redis before its reply was lost (a connection reset): a worker
      // may have answered for some of these chunks already. Those are done and must not be offered
      // again (it would verify and log them twice); the rest were not queued, as far as anyone knows.
      const notQueued: ReplicaRecord[] = [];
      for (const replica of replicas) {
        const pending = this.pending.get(replica.name);
        if (pending === undefined || pending.corruptions !== 0) continue;
        this.pending.delete(replica.name);
        this.names.delete(this.jobIdOf(replica.name, 0));
        notQueued.push(replica);
      }
      throw new DispatchFailure(error, notQueued);
    }
    this.options.stats.detected += replicas.length;
  }

  /**
   * Whether the file's name and local path are its own; a second DID for either is failed at once,
   * named with the first, and never queued (so nothing is overwritten, and no retry changes it).
   */
  private claim(replica: ReplicaRecord, tDetected: number): boolean {
    const { jobs, paths, outcomes, stats } = this.options;
    const job = downloadJobFor(jobs, replica, tDetected, 0);
    const relativePath = job.destDir === undefined ? undefined : job.relativeName;
    const where = job.destDir === undefined ? '' : join(job.destDir, job.relativeName);
    const refusal = paths.claim({ scope: replica.scope, name: replica.name, relativePath }, where);
    if (refusal === undefined) return true;
    stats.detected++;
    stats.failedFinal++;
    outcomes.failed({ job, tDetected, attempts: 0 }, 0, new Error(refusal));
    return false;
  }

  /** Queues a pending chunk's job again, as it was (the lost-job watchdog found it gone). */
  requeue(chunk: PendingChunk): Promise<void> {
    return this.enqueue(chunk.replica, chunk.tDetected, chunk.corruptions, chunk.reads, 0);
  }

  /**
   * A worker's answer. An answer for a chunk no longer pending, or for an earlier corruption round of
   * it (a job that ran twice: a stalled worker that had in fact finished), is a duplicate and ignored.
   */
  completed(answer: WorkerAnswer): void {
    const pending = this.pending.get(answer.name);
    if (!pending || pending.corruptions !== answer.corruptions) return;
    const { outcomes, stats, now, jobs } = this.options;
    const context = {
      job: downloadJobFor(jobs, pending.replica, pending.tDetected, pending.corruptions),
      tDetected: pending.tDetected,
      attempts: answer.attempt + pending.corruptions,
    };
    // Every bad read is logged, also those a later good read of the same job made up for.
    const { replica } = pending;
    const expected = definedProps({ adler32: replica.adler32 === '' ? undefined : replica.adler32, md5: replica.md5 === '' ? undefined : replica.md5, bytes: replica.bytes });
    for (const read of answer.corruptReads) {
      stats.recordCorruptRead(answer.name);
      outcomes.corruptedRead(context, read, pending.reads + read.attempt, expected);
    }
    const reads = pending.reads + answer.replicaAttempts;
    switch (answer.status) {
      case 'verified':
        this.finish(answer.name, pending);
        stats.recordVerified(answer.tAvail === undefined ? undefined : answer.tVerified - answer.tAvail, now(), answer.foreign === true);
        outcomes.verified(context, answer);
        this.options.onVerified?.(answer);
        this.options.onSettled?.();
        return;
      case 'invalid':
        // The bytes are what the catalog registered: reading them again cannot help.
        this.finish(answer.name, pending);
        stats.invalidFinal++;
        outcomes.invalid(context, answer);
        this.options.onSettled?.();
        return;
      case 'corrupted': {
        const retrying = pending.corruptions < this.options.corruptionRetries;
        outcomes.corruptedRound(context, answer, retrying);
        if (retrying) {
          // The bytes may have been damaged in transit, or a good replica may appear: try again later.
          const corruptions = pending.corruptions + 1;
          this.enqueue(pending.replica, pending.tDetected, corruptions, reads, corruptionRetryDelayMs * corruptions).catch((error: unknown) =>
            outcomes.retryNotQueued(answer.name, error),
          );
        } else {
          this.finish(answer.name, pending);
          stats.corruptedFinal++;
          this.options.onSettled?.();
        }
      }
    }
  }

  /** A job whose attempts are used up (BullMQ retried the transient failures before). */
  failed(jobId: string, reason: string): void {
    const name = this.names.get(jobId);
    const pending = name === undefined ? undefined : this.pending.get(name);
    if (name === undefined || !pending || this.jobIdOf(name, pending.corruptions) !== jobId) return;
    const { outcomes, jobs } = this.options;
    this.finish(name, pending);
    this.options.stats.failedFinal++;
    const job = downloadJobFor(jobs, pending.replica, pending.tDetected, pending.corruptions);
    outcomes.failed({ job, tDetected: pending.tDetected, attempts: jobs.attempts + pending.corruptions }, jobs.attempts, new Error(reason));
    this.options.onFailed?.();
    this.options.onSettled?.();
  }

  /** Waits for the chunks in flight, up to `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    const { now } = this.options;
    const deadline = now() + timeoutMs;
    while (this.pending.size > 0 && now() < deadline) await sleep(20);
  }

  /**
   * The chunk is pending in its new round before its job is added: the lost-job watchdog, which may
   * look while the add is on its way, must not take the finished job of the previous round for a
   * vanished one and queue that round again. If the add fails, the watchdog finds this round's job
   * missing later and queues it again.
   */
  private async enqueue(replica: ReplicaRecord, tDetected: number, corruptions: number, reads: number, delayMs: number): Promise<void> {
    const { executor, jobs, now } = this.options;
    const previous = this.pending.get(replica.name);
    if (previous !== undefined && previous.corruptions !== corruptions) this.names.delete(this.jobIdOf(replica.name, previous.corruptions));
    this.pending.set(replica.name, { tDetected, replica, corruptions, reads, queuedAt: now() + delayMs });
    this.names.set(this.jobIdOf(replica.name, corruptions), replica.name);
    await executor.add([{ data: downloadJobFor(jobs, replica, tDetected, corruptions), delayMs }]);
  }

  private finish(name: string, chunk: PendingChunk): void {
    this.pending.delete(name);
    this.names.delete(this.jobIdOf(name, chunk.corruptions));
  }

  private jobIdOf(name: string, corruptions: number): string {
    return downloadJobId(this.options.jobs.scope, name, corruptions);
  }
}
