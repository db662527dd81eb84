import { Worker, UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { definedProps } from '../common/defined.js';
import { errorMessage, isWavefierError } from '../common/errors.js';
import type { EventLog } from '../common/event-log.js';
import type { UploadChunkEvent } from '../common/log-records.js';
import { bullmqConnection } from '../redis/index.js';
import { AttachBatcher, uploadFile, type RucioClient } from '../rucio/index.js';
import { encodeChunk } from '../strain/index.js';
import { chunkOf, parseUploadJob, uploadQueueName, type UploadJob } from './job.js';
import type { LocalSamples } from './local-samples.js';
import { RunState } from './run-state.js';

export interface UploadWorkerOptions {
  /** The run whose queue this worker serves. */
  run: string;
  redisUrl: string;
  /** A connection for run-state bookkeeping (not the worker's blocking connection). */
  redis: Redis;
  rucio: RucioClient;
  /**
   * Coalesces the catalog calls of uploads that finish side by side (one per process: the owner
   * shares it between the runs it serves); built on `rucio` when absent.
   */
  attachBatcher?: AttachBatcher;
  /** Samples this process's producer queued: a job's first delivery takes them from here rather than from Redis. */
  localSamples?: LocalSamples;
  concurrency: number;
  /**
   * Where this worker notes retries of `run`'s chunks. Outcomes (uploaded, failed) go through the
   * run state to the producer, the single writer of upload.jsonl.
   */
  logFor: (run: string) => EventLog;
  now?: () => number;
  /** Told about every chunk this worker finished (for live statistics). */
  onOutcome?: (event: UploadChunkEvent) => void;
  /** Connection and other worker-level errors (BullMQ reconnects by itself). */
  onError?: (error: Error) => void;
}

/** BullMQ settings that decide how fast a killed worker's jobs come back to the queue. */
const workerLockSettings = {
  lockDuration: 10_000,
  stalledInterval: 5_000,
  // A chunk whose worker dies repeatedly is retried, not failed: a kill -9 must not lose it.
  maxStalledCount: 10,
};

/**
 * Consumes upload jobs: encodes the chunk (HDF5 bytes + checksums), uploads it into the lake with one
 * storage PUT and one catalog call (shared with the chunks that finish their PUT at the same time,
 * see AttachBatcher), records the outcome in the run state and logs one event.
 * Duplicated deliveries (a job re-added after its first copy completed, a stalled job that in fact
 * finished) are harmless: the upload is idempotent and the run-state bitmap lets only the first
 * completion log `uploaded`.
 */
export function startUploadWorker(options: UploadWorkerOptions): Worker {
  const now = options.now ?? Date.now;
  const attachBatcher = options.attachBatcher ?? new AttachBatcher(options.rucio);
  const states = new Map<string, RunState>();
  const stateFor = (run: string): RunState => {
    let state = states.get(run);
    if (!state) {
      state = new RunState(options.redis, run);
      states.set(run, state);
    }
    return state;
  };

  const processChunk = async (job: Job): Promise<void> => {
    const data = parseUploadJob(job.data);
    const state = stateFor(data.run);
    const log = options.logFor(data.run);
    const tStarted = now();
    const attempts = job.attemptsMade + 1;
    const base = baseEvent(data);
    const expectedSamples = Math.round(data.chunk.duration * data.chunk.sampleRate);
    // Taken in any case, so that the entry goes; used only by the job's first delivery: a retried or
    // stalled job asks Redis, whose answer also says whether another worker has recorded an outcome.
    const local = options.localSamples?.take(data.run, data.seq);
    const firstDelivery = attempts === 1 && job.stalledCounter === 0;
    // Recording an outcome drops the samples: finding them means no outcome yet, in one round trip.
    const samples = firstDelivery && local?.length === expectedSamples ? local : await state.samples(data.seq, expectedSamples);
    if (samples === undefined) {
      // A duplicate of this job finished first, or Redis lost them. Without an outcome the
      // producer's reconciliation enqueues the chunk again from its source: it is never dropped.
      if (!(await state.has('uploaded', data.seq)) && !(await state.has('failed', data.seq))) {
        log.diagnostic('warn', 'chunk samples missing from Redis; leaving the chunk to the producer\'s reconciliation', { seq: data.seq });
      }
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeChunk(chunkOf(data, samples), { tAvail: data.tAvail, tag: data.tag });
    } catch (error) {
      // A chunk that cannot be encoded will not encode on retry either.
      await finalFailure(state, { ...base, t_started: tStarted, attempts, error: errorMessage(error) });
      throw new UnrecoverableError(errorMessage(error));
    }
    try {
      const result = await uploadFile(options.rucio, {
        scope: data.scope,
        name: data.name,
        bytes,
        dataset: { scope: data.scope, name: data.dataset },
        rse: data.rse,
        attachBatcher,
        ...definedProps({ mode: data.uploadMode }),
        // A repeated attempt, or a job whose worker died (stalled), may follow a PUT that did land:
        // check the catalog first and never overwrite what a consumer may already be reading.
        retry: attempts > 1 || job.stalledCounter > 0,
      });
      const tUploaded = now();
      const event: UploadChunkEvent = {
        ...base,
        event: 'uploaded',
        bytes: bytes.byteLength,
        adler32: result.adler32,
        md5: result.md5,
        t_started: tStarted,
        t_uploaded: tUploaded,
        attempts,
      };
      // The record carries the log line atomically; the producer writes it to upload.jsonl.
      if (await state.record('uploaded', data.seq, event)) options.onOutcome?.(event);
    } catch (error) {
      const retryable = !isPermanent(error);
      const maxAttempts = job.opts.attempts ?? 1;
      const event = { ...base, t_started: tStarted, attempts, error: errorMessage(error) };
      if (!retryable || attempts >= maxAttempts) {
        await finalFailure(state, event);
        throw new UnrecoverableError(errorMessage(error));
      }
      log.write({ ...event, event: 'retry' });
      throw error;
    }
  };

  const finalFailure = async (state: RunState, event: Omit<UploadChunkEvent, 'event'>): Promise<void> => {
    const failed: UploadChunkEvent = { ...event, event: 'failed' };
    if (await state.record('failed', event.seq, failed)) options.onOutcome?.(failed);
  };

  const worker = new Worker(uploadQueueName(options.run), processChunk, {
    connection: bullmqConnection(options.redisUrl),
    concurrency: options.concurrency,
    ...workerLockSettings,
    autorun: true,
  });
  worker.on('error', (error) => {
    options.onError?.(error);
  });
  return worker;
}

/**
 * Whether retrying the whole upload cannot help, as the error says (`retryable` false: input,
 * configuration, integrity, permission, something missing, a refusal by catalog or storage). A
 * catalog 500 that the HTTP layer does not repeat is retryable; an error of unknown kind is retried
 * too (uploads are idempotent).
 */
function isPermanent(error: unknown): boolean {
  return isWavefierError(error) && !error.retryable;
}

function baseEvent(data: UploadJob): Omit<UploadChunkEvent, 'event'> {
  return {
    run: data.run,
    seq: data.seq,
    name: data.name,
    scope: data.scope,
    dataset: data.dataset,
    gps: data.gps,
    rse: data.rse,
    t_avail: data.tAvail,
    t_enqueued: data.tEnqueued,
    late: data.late,
  };
}
