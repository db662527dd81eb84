import type { ConnectionOptions, Worker } from 'bullmq';
import { errorMessage } from '../common/errors.js';
import type { EventLog } from '../common/event-log.js';
import type { RucioClient } from '../rucio/index.js';

export interface StartUpWorkerOptions {
  queueName: string;
  connection: ConnectionOptions;
  rucio: RucioClient;
  /** Chunks fetched at the same time. */
  concurrency: number;
  /** Retries and connection errors are noted here (the download log). */
  log: Pick<EventLog, 'diagnostic'>;
}

/**
 * Chunks that are already in the dataset when a download starts (a closed dataset, a download that
 * joins a running upload) are verified by the download process itself while its worker processes
 * start (each loads its modules first: about a second on a busy machine). It is a BullMQ worker on
 * the run's own queue, as theirs are: the same jobs, the same answers through the queue's event
 * stream, the same outcome lines, and BullMQ hands each job to one worker only; a job it holds when
 * the process dies stays in Redis, as a worker process's would. It stops taking jobs once every
 * worker process is ready. Its modules (the HDF5 decoder) are loaded only when the first poll found
 * chunks, so a download that starts before its stream (a paced rehearsal) never loads them.
 */
export class StartUpWorker {
  private loading: Promise<typeof import('./download-worker.js')> | undefined;
  private worker: Worker | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;

  /** Loads what verifying needs, ahead of `start` (the first poll found chunks). */
  prepare(): void {
    if (this.stopped || this.loading !== undefined) return;
    this.loading = import('./download-worker.js');
    this.loading.catch(() => undefined);
  }

  /** Starts taking jobs (once its modules are loaded), unless it was stopped meanwhile. */
  async start(options: StartUpWorkerOptions): Promise<void> {
    this.prepare();
    if (this.loading === undefined) return;
    let startDownloadWorker: (typeof import('./download-worker.js'))['startDownloadWorker'];
    try {
      ({ startDownloadWorker } = await this.loading);
    } catch (error) {
      // The worker processes verify everything, as without this worker.
      if (this.stopped) return;
      this.stopped = true;
      options.log.diagnostic('warn', 'the download process could not verify chunks itself while its workers start', { error: errorMessage(error) });
      return;
    }
    if (this.stopped || this.worker !== undefined) return;
    const { log } = options;
    this.worker = startDownloadWorker({
      queueName: options.queueName,
      connection: options.connection,
      rucio: options.rucio,
      concurrency: options.concurrency,
      onRetry: (data, attempt, error) => log.diagnostic('info', 'download attempt failed; retrying', { name: data.name, attempt, error: error.message }),
      onError: (error) => log.diagnostic('warn', 'start-up worker: connection error', { error: errorMessage(error) }),
    });
    log.diagnostic('debug', 'verifying in the download process while its worker processes start');
  }

  /** Whether it took jobs (for the summary's and the tests' sake). */
  get started(): boolean {
    return this.worker !== undefined;
  }

  /**
   * Takes no more jobs; waits for the chunks it holds, unless `force` (after a Ctrl-C: they stay in
   * Redis for the next download). Idempotent.
   */
  stop(force = false): Promise<void> {
    this.stopped = true;
    this.stopping ??= (async () => {
      await this.worker?.close(force);
    })();
    return this.stopping;
  }
}
