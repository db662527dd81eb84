import { hostname } from 'node:os';
import { CleanupStack } from '../common/cleanup.js';
import { RunLogs, type EventLog } from '../common/event-log.js';
import type { Output } from '../common/output.js';
import { redactUrl } from '../common/redact.js';
import { connectRedis } from '../redis/index.js';
import { AttachBatcher, attachEndpoint, type RucioClient } from '../rucio/index.js';
import { RunState } from './run-state.js';
import { encodeAsWorkers, warmUpChunk, warmUpUploads } from './upload-warm-up.js';
import { startWorkerPool } from './worker-pool.js';
import { untilAborted } from '../common/abort.js';

export interface UploadWorkerServiceOptions {
  /** The Redis the producers use. */
  redisUrl: string;
  /** Runs that upload to another Rucio server than this client's are left alone. */
  rucio: RucioClient;
  /** Concurrent uploads per run. */
  workers: number;
  /** Retries are noted in `<logDir>/<run id>/upload-<host>-<pid>.jsonl`. */
  logDir: string;
  /** Serving stops when this fires. */
  signal: AbortSignal;
  output: Output;
}

/** What this process's workers finished, over every run they served. */
export interface UploadWorkerCounts {
  uploaded: number;
  failed: number;
  /** Attach requests the workers sent (chunks finishing side by side share one), HTTP retries included. */
  attachRequests: number;
}

/**
 * The life of a `wavefier upload-worker` process: serves every active run on a shared Redis (that
 * uploads to this Rucio server) until the signal fires, then stops the workers (waiting for the
 * uploads in flight), closes its per-run logs and disconnects. The Rucio client stays its owner's.
 */
export async function serveUploadWorkers(options: UploadWorkerServiceOptions): Promise<UploadWorkerCounts> {
  const { output } = options;
  const cleanup = new CleanupStack({ onError: (message) => output.warn(`cleanup: ${message}`) });
  const counts: UploadWorkerCounts = { uploaded: 0, failed: 0, attachRequests: 0 };
  const attachRequests = (): number => options.rucio.stats.byEndpoint[attachEndpoint] ?? 0;
  const attachRequestsBefore = attachRequests();
  try {
    const redis = await connectRedis(options.redisUrl);
    cleanup.push('disconnecting from Redis', () => redis.disconnect());
    const logs = new RunLogs(options.logDir, `upload-${hostname()}-${process.pid}.jsonl`);
    cleanup.push('closing the retry logs', () => logs.close());
    const logFor = (run: string): EventLog => logs.for(run);
    // The code every chunk runs (job validation, HDF5 encoder, checksums) compiles before the first
    // run is served; each run's storage is warmed as it is taken up (its chunks may already wait).
    encodeAsWorkers({ scope: 'wavefier', dataset: 'warm-up', rse: 'WARM_UP', tag: 'WARMUP', chunk: warmUpChunk('warm-up') });
    const warmUpRun = async (run: string): Promise<void> => {
      const { settings } = await RunState.load(redis, run);
      const { scope, dataset, rse, tag } = settings;
      const warm = await warmUpUploads(options.rucio, { scope, dataset, rse, tag, chunk: warmUpChunk(run) });
      output.info(`run ${run}: storage on ${rse} ${warm ? 'warmed up' : 'not warmed up (its first chunk opens it)'}`);
    };
    const warmUps = new Set<Promise<void>>();
    cleanup.push('finishing the warm-ups', () => Promise.allSettled(warmUps).then(() => undefined));
    const pool = startWorkerPool({
      redisUrl: options.redisUrl,
      redis,
      rucio: options.rucio,
      // One for the process: runs into the same dataset and RSE share their catalog calls.
      attachBatcher: new AttachBatcher(options.rucio),
      concurrency: options.workers,
      logFor,
      onOutcome: (event) => (event.event === 'uploaded' ? counts.uploaded++ : counts.failed++),
      onError: (error) => output.warn(`upload worker: ${error.message}`),
      onRun: (run, action, why) => {
        output.info(`run ${run}: ${action}${why === undefined ? '' : ` (${why})`}`);
        if (action !== 'serving') return;
        const warming = warmUpRun(run).catch(() => undefined);
        warmUps.add(warming);
        void warming.finally(() => warmUps.delete(warming));
      },
    });
    cleanup.push('stopping the upload workers', () => pool.close());
    output.info(
      `upload-worker ${hostname()}:${process.pid} following the active upload runs on ${redactUrl(options.redisUrl)} with ${options.workers} workers per run`,
    );
    await untilAborted(options.signal);
  } finally {
    await cleanup.run();
    counts.attachRequests = attachRequests() - attachRequestsBefore;
  }
  return counts;
}
