import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, type ConnectionOptions, type Job, type Queue } from 'bullmq';
import { errorMessage } from '../common/errors.js';
import type { EventLog } from '../common/event-log.js';
import { warmupJobName, type ChunkOutcome, type DownloadOutcome } from './download-job.js';
import { workerConfigEnv } from './download-processor.js';

/** The processor file of the worker processes: always the compiled JavaScript, also under vitest. */
function processorFile(): string {
  const here = fileURLToPath(new URL('./download-processor.js', import.meta.url));
  if (existsSync(here)) return here;
  return fileURLToPath(new URL('../../dist/downloader/download-processor.js', import.meta.url));
}

export interface WorkerPoolOptions {
  queueName: string;
  connection: ConnectionOptions;
  /** Worker processes (BullMQ sandboxed processors, one job each at a time). */
  workers: number;
  /** Plain Rucio settings handed to the worker processes through their environment. */
  rucioSettings: unknown;
  log: EventLog;
}

/** Where the pool sends the answers for chunk jobs. */
export interface ChunkHandlers {
  completed(job: Job, outcome: ChunkOutcome): void;
  failed(job: Job, error: Error): void;
}

/** How long a warm-up waits for the worker processes at most before the run goes on without them. */
const warmUpTimeoutMs = 15_000;

/**
 * The worker processes that fetch and verify chunks: a BullMQ worker whose processor runs in child
 * processes (download-processor.ts), so a crash or a kill loses no job. Answers for chunk jobs go to
 * the handlers; warm-up jobs stay in here.
 */
export class DownloadWorkerPool {
  private readonly worker: Worker;
  private warmedUp = 0;

  constructor(
    private readonly options: WorkerPoolOptions,
    handlers: ChunkHandlers,
  ) {
    const { log } = options;
    this.worker = new Worker(options.queueName, processorFile(), {
      connection: options.connection,
      concurrency: Math.max(1, options.workers),
      useWorkerThreads: false,
      workerForkOptions: { env: { ...process.env, [workerConfigEnv]: JSON.stringify(options.rucioSettings) } },
      lockDuration: 15_000,
      stalledInterval: 5_000,
      maxStalledCount: 10,
    });
    this.worker.on('completed', (job: Job, outcome: DownloadOutcome) => {
      if (outcome.status === 'warmup') this.warmedUp++;
      else handlers.completed(job, outcome);
    });
    this.worker.on('failed', (job: Job | undefined, error: Error) => {
      if (job !== undefined && job.name !== warmupJobName) handlers.failed(job, error);
    });
    this.worker.on('error', (error) => log.diagnostic('warn', 'download worker error', { error: errorMessage(error) }));
  }

  /**
   * Starts the worker processes before the first chunk arrives (each loads the HDF5 library and the
   * storage SDKs, which takes a moment), so the first chunks' latency is not the start-up time.
   */
  async warmUp(queue: Queue, signal: AbortSignal, now: () => number): Promise<void> {
    const { workers } = this.options;
    for (let index = 0; index < workers; index++) {
      await queue.add(warmupJobName, {}, { jobId: `warmup-${process.pid}-${index}`, removeOnComplete: true, removeOnFail: true });
    }
    const deadline = now() + warmUpTimeoutMs;
    while (this.warmedUp < workers && now() < deadline && !signal.aborted) await sleep(20);
  }

  /** Stops without waiting for the jobs in flight: a chunk not verified is found again by the next downloader. */
  close(): Promise<void> {
    return this.worker.close(true);
  }
}
