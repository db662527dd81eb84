/**
 * The BullMQ side of a download worker: it runs in a `wavefier download-worker` process, takes jobs
 * straight from Redis and does each with processChunk (process-chunk.ts); its answer travels back in
 * the job's completion event (see worker-answers.ts). A worker that crashes or is killed loses
 * nothing: its job stays in Redis and is retried.
 */
import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { errorMessage } from '../common/errors.js';
import type { RucioClient } from '../rucio/index.js';
import { parseDownloadJob, type DownloadJob, type WorkerAnswer } from './download-job.js';
import { finalFailure, processChunk } from './process-chunk.js';

/** BullMQ settings that decide how fast a killed worker's jobs come back to the queue. */
const workerLockSettings = {
  lockDuration: 15_000,
  stalledInterval: 5_000,
  // A chunk whose worker dies repeatedly is retried, not failed: a kill -9 must not lose it.
  maxStalledCount: 10,
};

/**
 * Validates one job of the usual shape and drops it: zod compiles a schema on its first parse, which
 * cost the first chunk 1.5 ms on an idle machine and up to 12 ms on a loaded one.
 */
export function warmUpJobValidation(): void {
  const name = 'H-H1_WARMUP-1000000000-1.hdf5';
  parseDownloadJob({
    v: 1,
    run: 'warm-up',
    scope: 'warm-up',
    dataset: 'warm-up',
    name,
    replica: { scope: 'warm-up', name, bytes: 0, adler32: '00000001', pfns: [{ pfn: `file:///warm-up/${name}`, rse: 'WARM_UP', priority: 1, domain: 'lan' }], states: { WARM_UP: 'AVAILABLE' } },
    tDetected: Date.now(),
    relativeName: name,
    corruptions: 0,
  } satisfies DownloadJob);
}

export interface DownloadWorkerOptions {
  queueName: string;
  connection: ConnectionOptions;
  rucio: RucioClient;
  /** Chunks this worker fetches at the same time. */
  concurrency: number;
  /** A job attempt failed and BullMQ will try again (the download process sees only the final outcome). */
  onRetry?: (data: DownloadJob, attempt: number, error: Error) => void;
  onError?: (error: Error) => void;
}

/** A BullMQ worker on one download queue, answering each job with its chunk's outcome. */
export function startDownloadWorker(options: DownloadWorkerOptions): Worker {
  const worker = new Worker(
    options.queueName,
    async (job: Job): Promise<WorkerAnswer> => {
      const data = parseDownloadJob(job.data);
      const attempt = job.attemptsMade + 1;
      try {
        const outcome = await processChunk(options.rucio, data);
        return { ...outcome, name: data.name, corruptions: data.corruptions, attempt };
      } catch (error) {
        // No retry can help (a name refused, a destination that cannot take the file): the job fails at once.
        const final = finalFailure(error, data);
        if (final !== undefined) throw new UnrecoverableError(final);
        if (attempt < (job.opts.attempts ?? 1)) options.onRetry?.(data, attempt, error instanceof Error ? error : new Error(errorMessage(error)));
        throw error;
      }
    },
    { connection: options.connection, concurrency: Math.max(1, options.concurrency), ...workerLockSettings },
  );
  worker.on('error', (error) => options.onError?.(error));
  return worker;
}
