import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { UsageError, errorMessage } from '../common/errors.js';
import { openEventLog, type EventLog } from '../common/event-log.js';
import { boundedCleanup } from '../common/cleanup.js';
import { formatDuration } from '../common/duration.js';
import { SlidingWindow } from '../common/live-stats.js';
import { defaultRunName } from '../common/run-id.js';
import { downloadLogFile, type DownloadChunkEvent, type RunEvent } from '../common/log-records.js';
import type { Output } from '../common/output.js';
import { bullmqConnection, connectRedis, startPrivateRedis } from '../redis/index.js';
import { rucioNotFound, type ReplicaRecord, type RucioClient } from '../rucio/index.js';
import { downloadJobId, downloadQueueName, parseDownloadJob, warmupJobName, type DownloadJob, type DownloadOutcome } from './download-job.js';
import { workerConfigEnv } from './download-processor.js';
import { verifiedNamesFromLog } from './download-state.js';
import { DatasetPoller, type PollMode } from './poller.js';

export interface DownloadRunOptions {
  redisUrl?: string;
  rucio: RucioClient;
  /** Plain Rucio settings handed to worker processes through their environment. */
  workerRucioSettings: unknown;
  scope: string;
  dataset: string;
  /** Destination directory; with `keep: 'none'` files are verified in memory and not written. */
  dest?: string;
  subdir: boolean;
  keep: 'all' | 'none';
  workers: number;
  pollMode: PollMode;
  pollIntervalMs: number;
  reconcileEveryMs: number;
  fromRse?: string;
  untilCount?: number;
  untilIdleMs?: number;
  untilClosed: boolean;
  durationMs?: number;
  attempts: number;
  corruptionRetries: number;
  logDir: string;
  /** Name of the log directory under logDir; defaults to the upload run id found in the dataset name. */
  runName?: string;
  signal: AbortSignal;
  output: Output;
  now?: () => number;
}

export interface DownloadSummary {
  scope: string;
  dataset: string;
  detected: number;
  verified: number;
  corrupted: number;
  failed: number;
  alreadyVerified: number;
  pending: number;
  polls: number;
  pollRequests: number;
  pollErrors: number;
  stopReason: string;
  logFile: string;
  wallMs: number;
  totalLatencyMs: { p50?: number; p99?: number };
}

/** A chunk handed to the workers and not yet finished. */
interface Pending {
  tDetected: number;
  replica: ReplicaRecord;
  corruptions: number;
  /** When its job was (last) added to the queue. */
  queuedAt: number;
}

/** A pending chunk whose job has been gone from the queue this long without an outcome is queued again. */
const lostJobCheckAfterMs = 5_000;
/** In flight this long (several times the retry backoff of a healthy run) is worth a note in the log. */
const longPendingReportMs = 30_000;

/** The processor file of the worker processes: always the compiled JavaScript, also under vitest. */
export function processorFile(): string {
  const here = fileURLToPath(new URL('./download-processor.js', import.meta.url));
  if (existsSync(here)) return here;
  return fileURLToPath(new URL('../../dist/downloader/download-processor.js', import.meta.url));
}

/**
 * The consumer side of a rehearsal: polls the dataset for new chunks, hands each to a pool of worker
 * processes that fetch and verify it, logs one line per outcome, and stops on the first stop condition.
 * Corrupted chunks are logged and retried (another replica, then again after a delay) but never
 * written as good; chunks that fail for good are logged and counted.
 */
export async function runDownload(options: DownloadRunOptions): Promise<DownloadSummary> {
  const now = options.now ?? Date.now;
  const started = now();
  if (options.keep === 'all' && options.dest === undefined) throw new UsageError('--dest DIR is required unless --keep none');
  if (!(options.pollIntervalMs > 0)) throw new UsageError(`--poll-interval must be positive, got ${options.pollIntervalMs} ms`);
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    let redisUrl = options.redisUrl;
    if (redisUrl === undefined) {
      const server = await startPrivateRedis();
      redisUrl = server.url;
      cleanups.push(() => server.stop());
    }
    const redis = await connectRedis(redisUrl);
    cleanups.push(() => redis.disconnect());

    const runName = options.runName ?? defaultRunName(options.dataset);
    const logFile = join(options.logDir, runName, downloadLogFile);
    const alreadyVerified = await verifiedNamesFromLog(logFile, options.scope, options.dataset);
    const log = openEventLog(logFile);
    cleanups.push(() => log.close());
    log.write({
      event: 'run_started',
      run: runName,
      side: 'download',
      scope: options.scope,
      dataset: options.dataset,
      settings: {
        poll_mode: options.pollMode,
        poll_interval_ms: options.pollIntervalMs,
        workers: options.workers,
        from_rse: options.fromRse,
        keep: options.keep,
        already_verified: alreadyVerified.size,
      },
    } satisfies RunEvent);

    const connection = bullmqConnection(redisUrl);
    const queueName = downloadQueueName(options.scope, options.dataset, `${process.pid}${randomBytes(3).toString('hex')}`);
    const queue = new Queue(queueName, { connection });
    queue.on('error', (error) => log.diagnostic('warn', 'download queue connection error', { error: errorMessage(error) }));
    // Nothing of this queue outlives the run: what was not verified is found again by the next poller.
    cleanups.push(async () => {
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    });

    const coordinator = new Coordinator(options, log, queue, redis, runName, now);
    const worker = new Worker(queueName, processorFile(), {
      connection,
      concurrency: Math.max(1, options.workers),
      useWorkerThreads: false,
      workerForkOptions: { env: { ...process.env, [workerConfigEnv]: JSON.stringify(options.workerRucioSettings) } },
      lockDuration: 15_000,
      stalledInterval: 5_000,
      maxStalledCount: 10,
    });
    cleanups.push(() => worker.close(true));
    worker.on('completed', (job: Job, outcome: DownloadOutcome) => coordinator.completed(job, outcome));
    worker.on('failed', (job: Job | undefined, error: Error) => coordinator.failed(job, error));
    worker.on('error', (error) => log.diagnostic('warn', 'download worker error', { error: errorMessage(error) }));
    await coordinator.warmUp(options.workers);

    const poller = new DatasetPoller(
      {
        client: options.rucio,
        scope: options.scope,
        dataset: options.dataset,
        mode: options.pollMode,
        ...(options.fromRse === undefined ? {} : { rseExpression: options.fromRse }),
        reconcileEveryMs: options.reconcileEveryMs,
        overlapMs: 2000,
        now,
      },
      alreadyVerified,
    );
    const progress = startProgress(options.output, coordinator, options.dataset);
    cleanups.push(() => progress.stop());

    const stopReason = await coordinator.loop(poller, alreadyVerified.size, started);
    await coordinator.drain(options.signal.aborted ? 10_000 : 30_000);
    progress.stop();
    const summary: DownloadSummary = {
      scope: options.scope,
      dataset: options.dataset,
      detected: coordinator.detected,
      verified: coordinator.verified,
      corrupted: coordinator.corruptedFinal,
      failed: coordinator.failedFinal,
      alreadyVerified: alreadyVerified.size,
      pending: coordinator.pending.size,
      polls: coordinator.polls,
      pollRequests: coordinator.pollRequests,
      pollErrors: coordinator.pollErrors,
      stopReason,
      logFile,
      wallMs: now() - started,
      totalLatencyMs: coordinator.latency(),
    };
    log.write({
      event: 'run_finished',
      run: runName,
      side: 'download',
      scope: options.scope,
      dataset: options.dataset,
      counts: {
        detected: summary.detected,
        verified: summary.verified,
        corrupted: summary.corrupted,
        failed: summary.failed,
        pending: summary.pending,
        polls: summary.polls,
        poll_requests: summary.pollRequests,
        poll_errors: summary.pollErrors,
      },
      reason: stopReason,
    } satisfies RunEvent);
    return summary;
  } finally {
    for (const step of cleanups.reverse()) {
      try {
        await boundedCleanup(step());
      } catch (error) {
        options.output.warn(`cleanup step failed: ${errorMessage(error)}`);
      }
    }
  }
}

class Coordinator {
  readonly pending = new Map<string, Pending>();
  detected = 0;
  verified = 0;
  corruptedFinal = 0;
  failedFinal = 0;
  corruptionEvents = 0;
  polls = 0;
  pollRequests = 0;
  pollErrors = 0;
  private lastNewAt: number;
  private readonly totals = new SlidingWindow(Number.POSITIVE_INFINITY, 200_000);
  private datasetClosed = false;
  private datasetLength: number | undefined;
  private lastDidCheck = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly options: DownloadRunOptions,
    private readonly log: EventLog,
    private readonly queue: Queue,
    /** A plain connection to the queue's Redis, for checks BullMQ has no call for. */
    private readonly redis: Redis,
    private readonly runName: string,
    private readonly now: () => number,
  ) {
    this.lastNewAt = now();
  }

  async loop(poller: DatasetPoller, alreadyVerified: number, started: number): Promise<string> {
    const { options } = this;
    for (;;) {
      const reason = this.stopReason(alreadyVerified, started);
      if (reason !== undefined) return reason;
      const pollStarted = this.now();
      try {
        const result = await poller.poll();
        this.polls++;
        this.pollRequests += result.requests;
        try {
          await this.enqueueDetected(result.fresh, this.now());
        } catch (error) {
          // Not queued (BullMQ adds a batch in one transaction): the next poll offers them again.
          for (const left of result.fresh) poller.forget(left.name);
          throw error;
        }
        if (result.fresh.length > 0) this.lastNewAt = this.now();
        await this.requeueLostJobs();
        if (options.untilClosed && pollStarted - this.lastDidCheck >= 1000) {
          this.lastDidCheck = pollStarted;
          const did = await options.rucio.getDid(options.scope, options.dataset);
          this.pollRequests++;
          this.datasetClosed = did.open === false;
          this.datasetLength = did.length ?? undefined;
        }
      } catch (error) {
        if (rucioNotFound(error) && this.polls === 0) {
          // The uploader at the other site has not created the dataset yet: wait for it quietly.
          if (!this.announcedWaiting) options.output.info(`waiting for ${options.scope}:${options.dataset} to appear`);
          this.announcedWaiting = true;
          await sleep(options.pollIntervalMs, undefined, { signal: options.signal }).catch(() => undefined);
          continue;
        }
        this.pollErrors++;
        this.log.diagnostic('warn', 'poll failed; will poll again', { error: errorMessage(error) });
        options.output.warn(`poll of ${options.scope}:${options.dataset} failed (${errorMessage(error)}); retrying`);
      }
      const wait = options.pollIntervalMs - (this.now() - pollStarted);
      if (wait > 0) {
        try {
          await sleep(wait, undefined, { signal: options.signal });
        } catch {
          // aborted: the next stopReason() says so
        }
      }
    }
  }

  private stopReason(alreadyVerified: number, started: number): string | undefined {
    const { options } = this;
    const now = this.now();
    if (options.signal.aborted) return 'interrupted';
    const verifiedTotal = this.verified + alreadyVerified;
    if (options.untilCount !== undefined && verifiedTotal >= options.untilCount) return `verified ${verifiedTotal} chunks`;
    if (options.durationMs !== undefined && now - started >= options.durationMs) return `duration ${formatDuration(options.durationMs)} reached`;
    if (options.untilIdleMs !== undefined && this.pending.size === 0 && now - this.lastNewAt >= options.untilIdleMs) {
      return `idle for ${formatDuration(options.untilIdleMs)}`;
    }
    if (
      options.untilClosed &&
      this.datasetClosed &&
      this.pending.size === 0 &&
      this.datasetLength !== undefined &&
      verifiedTotal + this.corruptedFinal + this.failedFinal >= this.datasetLength
    ) {
      return 'dataset closed and every chunk in it handled';
    }
    return undefined;
  }

  /** A poll's new files in one round trip: one by one costs ~0.1 ms more CPU per file (BullMQ). */
  async enqueueDetected(replicas: ReplicaRecord[], tDetected: number): Promise<void> {
    if (replicas.length === 0) return;
    // Pending before queued: a worker's outcome can arrive before addBulk's reply does.
    for (const replica of replicas) this.pending.set(replica.name, { tDetected, replica, corruptions: 0, queuedAt: this.now() });
    try {
      await this.queue.addBulk(replicas.map((replica) => ({ name: 'chunk', data: this.jobFor(replica, tDetected, 0), opts: this.jobOptions(replica, 0, 0) })));
    } catch (error) {
      for (const replica of replicas) this.pending.delete(replica.name);
      throw error;
    }
    this.detected += replicas.length;
  }

  async enqueue(replica: ReplicaRecord, tDetected: number, corruptions: number, delayMs = 0, again = false): Promise<void> {
    await this.queue.add('chunk', this.jobFor(replica, tDetected, corruptions), this.jobOptions(replica, corruptions, delayMs));
    if (corruptions === 0 && !again) this.detected++;
    this.pending.set(replica.name, { tDetected, replica, corruptions, queuedAt: this.now() + delayMs });
  }

  private jobFor(replica: ReplicaRecord, tDetected: number, corruptions: number): DownloadJob {
    const { options } = this;
    const relativeName = options.subdir ? join(options.dataset, replica.name) : replica.name;
    return {
      v: 1,
      scope: options.scope,
      dataset: options.dataset,
      name: replica.name,
      replica,
      tDetected,
      ...(options.keep === 'all' && options.dest !== undefined ? { destDir: options.dest } : {}),
      relativeName,
      corruptions,
    };
  }

  private jobOptions(replica: ReplicaRecord, corruptions: number, delayMs: number): JobsOptions {
    return {
      jobId: downloadJobId(this.options.scope, replica.name, corruptions),
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: 500 },
      delay: delayMs,
      removeOnComplete: true,
      removeOnFail: true,
    };
  }

  private lastLostJobCheck = 0;

  /**
   * A job can vanish without an outcome reaching us: a worker's completion command re-sent after a
   * Redis connection broke finds the job already removed, and BullMQ then reports only an error.
   * Such chunks are queued again (their first download was never logged, so nothing is counted twice).
   */
  async requeueLostJobs(): Promise<void> {
    const now = this.now();
    if (now - this.lastLostJobCheck < 2000) return;
    this.lastLostJobCheck = now;
    const old = [...this.pending.entries()].filter(([, pending]) => now - pending.queuedAt >= lostJobCheckAfterMs);
    if (old.length === 0) return;
    // One round trip for all of them: does each job's hash still exist?
    const pipeline = this.redis.pipeline();
    for (const [name, pending] of old) pipeline.exists(this.queue.toKey(downloadJobId(this.options.scope, name, pending.corruptions)));
    const answers = (await pipeline.exec()) ?? [];
    for (const [index, [name, pending]] of old.entries()) {
      if (answers[index]?.[1] !== 0) {
        await this.reportLongPending(name, pending, now);
        continue;
      }
      // Its outcome may have arrived while the check was on its way: then the job is gone because it finished.
      if (this.pending.get(name) !== pending) continue;
      this.log.diagnostic('warn', 'a download job vanished without an outcome; queuing the chunk again', { name });
      await this.enqueue(pending.replica, pending.tDetected, pending.corruptions, 0, true);
    }
  }

  private readonly reportedLongPending = new Set<string>();

  /**
   * A chunk in flight far longer than any retry schedule explains is logged once with its job's
   * BullMQ state, so that a run that stalls on it says where it is stuck.
   */
  private async reportLongPending(name: string, pending: Pending, now: number): Promise<void> {
    if (now - pending.queuedAt < longPendingReportMs || this.reportedLongPending.has(name)) return;
    this.reportedLongPending.add(name);
    const jobId = downloadJobId(this.options.scope, name, pending.corruptions);
    const state = await this.queue.getJobState(jobId).catch((error: unknown) => `unknown (${errorMessage(error)})`);
    this.log.diagnostic('warn', 'a chunk has been in flight for long; its download job is still in Redis', {
      name,
      job: jobId,
      state,
      in_flight_ms: now - pending.queuedAt,
    });
  }

  private warmedUp = 0;
  private announcedWaiting = false;

  /**
   * Starts the worker processes before the first chunk arrives (each loads the HDF5 library and the
   * storage SDKs, which takes a moment), so the first chunks' latency is not the start-up time.
   */
  async warmUp(workers: number): Promise<void> {
    for (let index = 0; index < workers; index++) {
      await this.queue.add(warmupJobName, {}, { jobId: `warmup-${process.pid}-${index}`, removeOnComplete: true, removeOnFail: true });
    }
    const deadline = this.now() + 15_000;
    while (this.warmedUp < workers && this.now() < deadline && !this.options.signal.aborted) await sleep(20);
  }

  completed(job: Job, outcome: DownloadOutcome): void {
    if (outcome.status === 'warmup') {
      this.warmedUp++;
      return;
    }
    const data = parseDownloadJob(job.data);
    const pending = this.pending.get(data.name);
    if (!pending) return;
    const base = {
      run: outcome.run ?? this.runName,
      ...(outcome.seq === undefined ? {} : { seq: outcome.seq }),
      name: data.name,
      scope: data.scope,
      dataset: data.dataset,
      bytes: outcome.bytes,
      ...(outcome.tAvail === undefined ? {} : { t_avail: outcome.tAvail }),
      t_detected: pending.tDetected,
      t_downloaded: outcome.tDownloaded,
      attempts: job.attemptsMade + 1 + pending.corruptions,
      ...(outcome.rse === undefined ? {} : { rse: outcome.rse }),
      // A presigned URL is a credential until it expires: log where, not the signature.
      ...(outcome.pfn === undefined ? {} : { pfn: outcome.pfn.split('?')[0] }),
    };
    if (outcome.status === 'verified') {
      this.pending.delete(data.name);
      this.verified++;
      if (outcome.tAvail !== undefined) this.totals.add(outcome.tVerified - outcome.tAvail, this.now());
      this.log.write({
        ...base,
        event: 'verified',
        adler32: outcome.adler32,
        md5: outcome.md5,
        t_verified: outcome.tVerified,
      } satisfies DownloadChunkEvent);
      return;
    }
    this.corruptionEvents++;
    this.log.write({
      ...base,
      event: 'corrupted',
      ...(outcome.adler32 === undefined ? {} : { adler32: outcome.adler32 }),
      ...(outcome.md5 === undefined ? {} : { md5: outcome.md5 }),
      ...(outcome.expectedAdler32 === undefined ? {} : { expected_adler32: outcome.expectedAdler32 }),
      ...(outcome.expectedMd5 === undefined ? {} : { expected_md5: outcome.expectedMd5 }),
      error: outcome.reason,
    } satisfies DownloadChunkEvent);
    this.options.output.warn(`corrupted: ${data.name} (${outcome.reason})`);
    if (pending.corruptions < this.options.corruptionRetries) {
      // The bytes may have been damaged in transit, or a good replica may appear: try again later.
      this.enqueue(pending.replica, pending.tDetected, pending.corruptions + 1, 1000 * (pending.corruptions + 1)).catch(
        (error: unknown) => this.log.diagnostic('error', 'could not re-enqueue a corrupted chunk', { name: data.name, error: errorMessage(error) }),
      );
    } else {
      this.pending.delete(data.name);
      this.corruptedFinal++;
    }
  }

  failed(job: Job | undefined, error: Error): void {
    if (!job || job.name === warmupJobName) return;
    const data = parseDownloadJob(job.data);
    const pending = this.pending.get(data.name);
    if (!pending) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1);
    if (!final) {
      this.log.diagnostic('info', 'download attempt failed; retrying', { name: data.name, attempt: job.attemptsMade, error: error.message });
      return;
    }
    this.pending.delete(data.name);
    this.failedFinal++;
    this.log.write({
      event: 'failed',
      run: this.runName,
      name: data.name,
      scope: data.scope,
      dataset: data.dataset,
      t_detected: pending.tDetected,
      attempts: job.attemptsMade + pending.corruptions,
      error: error.message,
    } satisfies DownloadChunkEvent);
    this.options.output.warn(`failed: ${data.name} after ${job.attemptsMade} attempts (${error.message})`);
  }

  /** Waits for the chunks in flight, up to `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = this.now() + timeoutMs;
    while (this.pending.size > 0 && this.now() < deadline) await sleep(20);
  }

  latency(): { p50?: number; p99?: number } {
    const [p50, p99] = this.totals.percentiles([0.5, 0.99], Number.POSITIVE_INFINITY);
    return { ...(p50 === undefined ? {} : { p50 }), ...(p99 === undefined ? {} : { p99 }) };
  }
}

function startProgress(output: Output, coordinator: Coordinator, dataset: string): { stop(): void } {
  const interactive = output.interactive;
  const timer = setInterval(
    () => {
      const latency = coordinator.latency();
      const text =
        `${coordinator.verified} verified · ${coordinator.corruptionEvents} corruptions seen · ${coordinator.failedFinal} failed · ` +
        `${coordinator.pending.size} in flight · ${coordinator.polls} polls (${coordinator.pollErrors} errors) · total latency p50 ` +
        (latency.p50 === undefined ? '-' : formatDuration(latency.p50));
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
