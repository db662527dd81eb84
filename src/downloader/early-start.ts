import type { Output } from '../common/output.js';
import type { EventLog } from '../common/event-log.js';
import { definedProps } from '../common/defined.js';
import { freePort, startPrivateRedis, type PrivateRedis } from '../redis/private-server.js';
import { newDownloadQueueName } from './download-job.js';
import { DownloadWorkerPool } from './worker-pool.js';

export interface EarlyStartOptions {
  scope: string;
  dataset: string;
  /** A Redis to use; without it a private redis-server is started. */
  redisUrl?: string;
  workers: number;
  concurrency: number;
  logDir: string;
  rucioSettings: unknown;
  env?: NodeJS.ProcessEnv;
  output: Output;
}

/** What an early start has running once its Redis answers. */
export interface EarlyServices {
  redisUrl: string;
  /** The private redis-server, when no Redis was given. */
  privateRedis?: PrivateRedis;
  /** The worker processes, started (absent with `workers: 0`). */
  pool?: DownloadWorkerPool;
}

export interface EarlyStart {
  queueName: string;
  /** Resolves once the Redis is up and the worker processes are spawned; rejects if the Redis could not start. */
  services: Promise<EarlyServices>;
  /** Where the worker pool's diagnostics go from now on; what it said before is told now. */
  attachLog(log: Pick<EventLog, 'diagnostic'>): void;
  /** Stops the worker processes (killed: no grace) and the private Redis; for a run that ends before it takes them over. Idempotent. */
  stop(): Promise<void>;
}

type Diagnostic = Parameters<EventLog['diagnostic']>;

/**
 * The slow-to-start parts of a download, started before the download process loads the rest of its
 * modules: a worker process loads its own (BullMQ, the Rucio client, the HDF5 decoder: about half a
 * second of CPU) and the download's module loading, first catalog requests and first poll happen
 * meanwhile, instead of one after the other. The private redis-server starts first (tens of
 * milliseconds); the worker processes are spawned as soon as it answers, so that they find it.
 * runDownload takes over what this started (`DownloadRunOptions.early`).
 */
export function startDownloadEarly(options: EarlyStartOptions): EarlyStart {
  const queueName = newDownloadQueueName(options.scope, options.dataset);
  // What the pool says before the run takes it over (a worker's stderr, an exit) is told when it
  // does; a run that stops before then (bad credentials, an unreachable Redis) drops it.
  const pending: (() => void)[] = [];
  let attached: Pick<EventLog, 'diagnostic'> | undefined;
  const log: Pick<EventLog, 'diagnostic'> = {
    diagnostic: (...args: Diagnostic) => (attached === undefined ? pending.push(() => attached?.diagnostic(...args)) : attached.diagnostic(...args)),
  };
  const output: Pick<Output, 'warn'> = {
    warn: (message: string) => (attached === undefined ? pending.push(() => options.output.warn(message)) : options.output.warn(message)),
  };
  const services = (async (): Promise<EarlyServices> => {
    // The worker processes do not wait for the private redis-server: they are told its port and load
    // their modules (hundreds of milliseconds) while it starts (tens); they connect once it answers.
    const port = options.redisUrl === undefined ? await freePort() : undefined;
    const redisUrl = options.redisUrl ?? `redis://127.0.0.1:${port ?? 0}`;
    const pool = options.workers === 0 ? undefined : new DownloadWorkerPool({
      workers: options.workers,
      concurrency: options.concurrency,
      redisUrl,
      queueName,
      logDir: options.logDir,
      rucioSettings: options.rucioSettings,
      ...definedProps({ env: options.env }),
      log,
      output,
    });
    pool?.start();
    try {
      const privateRedis = port === undefined ? undefined : await startPrivateRedis({ port });
      return { redisUrl: privateRedis?.url ?? redisUrl, ...definedProps({ pool, privateRedis }) };
    } catch (error) {
      // Without a Redis the run fails (runDownload awaits `services`): its workers stop now.
      await pool?.close(0);
      throw error;
    }
  })();
  // A failure is the run's to report (runDownload awaits `services`); not an unhandled rejection meanwhile.
  services.catch(() => undefined);
  let stopping: Promise<void> | undefined;
  return {
    queueName,
    services,
    attachLog(target) {
      attached = target;
      for (const tell of pending.splice(0)) tell();
    },
    stop: () =>
      (stopping ??= (async () => {
        const started = await services.catch(() => undefined);
        // No grace: a run that stops before it took them over (rejected credentials) stops at once,
        // and a worker process still loading its modules has nothing to finish. After a run that took
        // them over, its own cleanup has already stopped them (gracefully) and this does nothing.
        await started?.pool?.close(0);
        await started?.privateRedis?.stop();
      })()),
  };
}
