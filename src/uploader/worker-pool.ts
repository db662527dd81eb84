import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { errorMessage } from '../common/errors.js';
import { RunState } from './run-state.js';
import { startUploadWorker, type UploadWorkerOptions } from './upload-worker.js';

export interface WorkerPoolOptions extends Omit<UploadWorkerOptions, 'run'> {
  redis: Redis;
  /** How often the set of active runs is read again. */
  refreshMs?: number;
  /** Told when a run is taken up or left alone (another Rucio server), for people. */
  onRun?: (run: string, action: 'serving' | 'skipped' | 'finished', why?: string) => void;
}

export interface WorkerPool {
  readonly runs: () => string[];
  close(): Promise<void>;
}

/**
 * Upload workers for every active run on a Redis, as `wavefier upload-worker` runs them on other
 * hosts: a run's queue is served while its producer runs, and only if the run uploads to the Rucio
 * server this process is configured for (its chunks must land in the catalog the producer uses).
 */
export function startWorkerPool(options: WorkerPoolOptions): WorkerPool {
  const workers = new Map<string, Worker>();
  const skipped = new Set<string>();
  const ourHost = options.rucio.config.rucioHost;
  let closing = false;

  const refresh = async (): Promise<void> => {
    const active = new Set(await RunState.activeRuns(options.redis));
    for (const run of active) {
      if (workers.has(run) || skipped.has(run)) continue;
      const { settings } = await RunState.load(options.redis, run);
      if (settings.rucioHost !== undefined && settings.rucioHost !== ourHost) {
        skipped.add(run);
        options.onRun?.(run, 'skipped', `it uploads to ${settings.rucioHost}, this worker to ${ourHost}`);
        continue;
      }
      workers.set(run, startUploadWorker({ ...options, run }));
      options.onRun?.(run, 'serving');
    }
    for (const [run, worker] of workers) {
      if (active.has(run)) continue;
      workers.delete(run);
      await worker.close();
      options.onRun?.(run, 'finished');
    }
  };

  let timer: NodeJS.Timeout | undefined;
  const loop = (): void => {
    refresh()
      .catch((error: unknown) => options.onError?.(new Error(`reading the active runs failed: ${errorMessage(error)}`)))
      .finally(() => {
        if (!closing) timer = setTimeout(loop, options.refreshMs ?? 2000);
      });
  };
  loop();

  return {
    runs: () => [...workers.keys()],
    async close() {
      closing = true;
      clearTimeout(timer);
      await Promise.all([...workers.values()].map((worker) => worker.close()));
      workers.clear();
    },
  };
}
