import { hostname } from 'node:os';
import type { Worker } from 'bullmq';
import { CleanupStack } from '../common/cleanup.js';
import { errorMessage } from '../common/errors.js';
import { RunLogs, type EventLog } from '../common/event-log.js';
import type { Output } from '../common/output.js';
import { parseChunkShapeLine } from '../common/stream-schedule.js';
import { redactUrl } from '../common/redact.js';
import { bullmqConnection, connectRedis, warmUpBullmq } from '../redis/index.js';
import type { RucioClient } from '../rucio/index.js';
import type { WorkerAnswer } from './download-job.js';
import { activeDownloads } from './download-registry.js';
import { startDownloadWorker, warmUpJobValidation } from './download-worker.js';
import { announcedChunkShape, loadContentVerifier, prepareForChunkShape, warmUpDecoder } from './process-chunk.js';
import { warmUpDatasetStorage } from './storage-warm-up.js';
import { untilAborted } from '../common/abort.js';
import { setImmediate } from 'node:timers/promises';

export interface DownloadWorkerServiceOptions {
  redisUrl: string;
  /** Runs that poll another Rucio server than this client's are left alone. */
  rucio: RucioClient;
  /** Chunks fetched at the same time, per download run served. */
  concurrency: number;
  /** Serve only this download queue (a worker process started by `wavefier download`). */
  queue?: string;
  /** Retries are noted in `<logDir>/<run>/download-worker-<host>-<pid>.jsonl`. */
  logDir: string;
  signal: AbortSignal;
  output: Output;
  /** Told once the workers are connected and the decoder is warm. */
  onReady?: (queues: number) => void;
  /**
   * The shape of the chunks to come, as a line to come (a worker process started by `wavefier
   * download` is told it on its stdin when the download is): the decoder is prepared for it.
   */
  announcedShape?: Promise<string | undefined>;
  /** Told once the decoder was prepared for the announced shape (or could not be). */
  onShapePrepared?: (prepared: boolean) => void;
  /** How often the registry of active download runs is read again (without `queue`). */
  refreshMs?: number;
}

/** What this process's workers answered, over every run they served. */
export interface DownloadWorkerCounts {
  verified: number;
  corrupted: number;
  /** Attempts that failed (BullMQ retries them, another worker may finish them). */
  failedAttempts: number;
}

/**
 * The life of a `wavefier download-worker` process: serves one download queue (when started by
 * `wavefier download`) or every active download run on a shared Redis that polls this Rucio server,
 * until the signal fires; then stops its workers without waiting for the chunks in flight (their jobs
 * stay in Redis and another worker takes them) and closes its logs.
 */
export async function serveDownloadWorkers(options: DownloadWorkerServiceOptions): Promise<DownloadWorkerCounts> {
  const { output } = options;
  const cleanup = new CleanupStack({ onError: (message) => output.warn(`cleanup: ${message}`) });
  const counts: DownloadWorkerCounts = { verified: 0, corrupted: 0, failedAttempts: 0 };
  // The HDF5 decoder compiles while Redis connects and the workers start (a failure to load it is the
  // first job's, or the warm-up's, to report).
  loadContentVerifier().catch(() => undefined);
  void options.announcedShape?.then(async (line) => {
    if (line === undefined || options.signal.aborted) return;
    let prepared = false;
    try {
      prepared = await prepareForChunkShape(announcedChunkShape(parseChunkShapeLine(line)));
    } catch (error) {
      output.warn(`${errorMessage(error)}: the first chunk teaches it`);
    }
    options.onShapePrepared?.(prepared);
  });
  try {
    const redis = await connectRedis(options.redisUrl);
    cleanup.push('disconnecting from Redis', () => redis.disconnect());
    const logs = new RunLogs(options.logDir, `download-worker-${hostname()}-${process.pid}.jsonl`);
    cleanup.push('closing the retry logs', () => logs.close());
    const logFor = (run: string): EventLog => logs.for(run);
    const workers = new Map<string, Worker>();
    cleanup.push('stopping the download workers', () => Promise.all([...workers.values()].map((worker) => worker.close(true))).then(() => undefined));
    let jobsTaken = 0;
    const serve = async (queue: string): Promise<void> => {
      const worker = startDownloadWorker({
        queueName: queue,
        connection: bullmqConnection(options.redisUrl),
        rucio: options.rucio,
        concurrency: options.concurrency,
        onRetry: (data, attempt, error) =>
          logFor(data.run).diagnostic('info', 'download attempt failed; retrying', { name: data.name, attempt, error: error.message }),
        onError: (error) => output.warn(`download worker: ${error.message}`),
      });
      worker.on('active', () => jobsTaken++);
      worker.on('completed', (_job, answer: WorkerAnswer) => {
        if (answer.status === 'verified') counts.verified++;
        else counts.corrupted++;
      });
      worker.on('failed', () => counts.failedAttempts++);
      workers.set(queue, worker);
      await worker.waitUntilReady();
    };
    /**
     * Pays the first chunk's costs before the first chunk: the catalog's token and connection (the
     * RSE lookup), the BullMQ round trip, the decoder and the job's validation (the BullMQ warm-up
     * waits on Redis while the decoder's, all CPU, runs). When real jobs were taken meanwhile (chunks were already waiting),
     * they pay for what they use themselves and the CPU goes to them. A catalog that does not answer
     * yet is tried again by the job.
     */
    const warmUp = async (): Promise<void> => {
      await options.rucio.whoami().catch(() => undefined);
      if (jobsTaken > 0) return;
      const bullmq = warmUpBullmq(options.redisUrl, { work: true });
      await setImmediate();
      await warmUpDecoder();
      warmUpJobValidation();
      await bullmq;
    };

    if (options.queue !== undefined) {
      // The run's queue is served at once: chunks already waiting (a dataset that had files before
      // the download started) are taken while this process warms up for the ones still to come.
      await serve(options.queue);
      const storage = activeDownloads(redis)
        .catch(() => [])
        .then((active) => active.find((entry) => entry.queue === options.queue))
        .then((run) => (run === undefined ? undefined : warmUpDatasetStorage(options.rucio, run, options.signal)));
      await Promise.all([warmUp(), storage]);
      options.onReady?.(1);
    } else {
      await warmUp();
      const ourHost = options.rucio.config.rucioHost;
      const skipped = new Set<string>();
      const refresh = async (): Promise<void> => {
        const active = await activeDownloads(redis);
        for (const run of active) {
          if (workers.has(run.queue) || skipped.has(run.queue)) continue;
          if (run.rucioHost !== ourHost) {
            skipped.add(run.queue);
            output.info(`download ${run.scope}:${run.dataset} (run ${run.run}) left alone: it polls ${run.rucioHost}, this worker ${ourHost}`);
            continue;
          }
          await serve(run.queue);
          // In the background: a dataset that does not exist yet must not hold up the other runs.
          void warmUpDatasetStorage(options.rucio, run, options.signal);
          output.info(`serving download ${run.scope}:${run.dataset} (run ${run.run}, on ${run.host})`);
        }
        const current = new Set(active.map((run) => run.queue));
        for (const [queue, worker] of workers) {
          if (current.has(queue)) continue;
          workers.delete(queue);
          await worker.close(true);
        }
      };
      await refresh();
      let timer: NodeJS.Timeout | undefined;
      const loop = (): void => {
        timer = setTimeout(() => {
          refresh()
            .catch((error: unknown) => output.warn(`reading the active download runs failed: ${errorMessage(error)}`))
            .finally(() => {
              if (!options.signal.aborted) loop();
            });
        }, options.refreshMs ?? 2000);
      };
      loop();
      cleanup.push('stopping the registry refresh', () => clearTimeout(timer));
      options.onReady?.(workers.size);
      output.info(
        `download-worker ${hostname()}:${process.pid} following the active download runs on ${redactUrl(options.redisUrl)}, ${options.concurrency} chunks at a time per run`,
      );
    }
    await untilAborted(options.signal);
  } finally {
    await cleanup.run();
  }
  return counts;
}
