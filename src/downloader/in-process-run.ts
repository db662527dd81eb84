import { setImmediate } from 'node:timers/promises';
import type { CleanupStack } from '../common/cleanup.js';
import { errorMessage } from '../common/errors.js';
import type { EventLog } from '../common/event-log.js';
import type { RucioClient } from '../rucio/index.js';
import type { JobSettings } from './download-job.js';
import type { DownloadRunOptions } from './download-run-options.js';
import { InProcessExecutor } from './in-process-executor.js';
import { announcedChunkShape, loadContentVerifier, prepareForChunkShape, processChunk, warmUpDecoder } from './process-chunk.js';
import { warmUpDatasetStorage } from './storage-warm-up.js';
import { defaultWorkerConcurrency } from './worker-pool.js';

/**
 * Whether the run verifies its chunks itself: `--workers 0` without a Redis to share. With `--redis`,
 * `--workers 0` keeps its other meaning: the queue is served only by `download-worker` processes
 * started elsewhere.
 */
export function inProcessVerification(options: Pick<DownloadRunOptions, 'workers' | 'redisUrl' | 'early'>): boolean {
  return options.workers === 0 && options.redisUrl === undefined && options.early === undefined;
}

export interface InProcessRunOptions {
  rucio: RucioClient;
  jobs: JobSettings;
  /** Chunks at a time (default: a worker process's, defaultWorkerConcurrency). */
  concurrency: number | undefined;
  log: EventLog;
  cleanup: CleanupStack;
  /** Pushes the steps that end the log: run after the executor stopped delivering outcomes. */
  pushLogEnd: () => void;
  /**
   * A finite batch (a dataset closed at the start): every chunk is there at once, and no upload waits
   * for `ready`; warming up would only compete with the first chunks for the CPU and the catalog.
   */
  batch: boolean;
}

/**
 * The in-process executor of a run, with the warm-up a worker process would do (the HDF5 decoder
 * compiled, the dataset's storage connected) so that the first chunk does not pay for it; retries
 * are noted in the download log, where a worker process notes them in its own.
 */
export function startInProcessExecutor(options: InProcessRunOptions): InProcessExecutor {
  const { rucio, jobs, log } = options;
  const warmUp = async (busy: () => boolean, signal: AbortSignal): Promise<void> => {
    if (options.batch) {
      await loadContentVerifier();
      return;
    }
    const storage = warmUpDatasetStorage(rucio, jobs, signal).catch(() => undefined);
    await loadContentVerifier();
    // Chunks already taken (a dataset that held files) pay for what they use, and the CPU goes to them.
    if (!busy()) {
      await setImmediate();
      await warmUpDecoder();
    }
    await storage;
  };
  const stopWarming = new AbortController();
  const executor = new InProcessExecutor({
    work: (data) => processChunk(rucio, data),
    concurrency: options.concurrency ?? defaultWorkerConcurrency,
    attempts: jobs.attempts,
    warmUp: (busy) => warmUp(busy, stopWarming.signal),
    expectChunkShape: (shape) => prepareForChunkShape(announcedChunkShape(shape)),
    onRetry: (data, attempt, error) => log.diagnostic('info', 'download attempt failed; retrying', { name: data.name, attempt, error: error.message }),
    onError: (error) => log.diagnostic('error', 'a chunk outcome could not be handled', { error: errorMessage(error) }),
  });
  options.pushLogEnd();
  options.cleanup.push('stopping the in-process verification', () => {
    stopWarming.abort();
    executor.close();
  });
  return executor;
}
