import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { withinTime } from '../common/time-limit.js';
import { bullmqConnection } from './connect.js';

/** How long the throw-away job may take before the warm-up gives up on it (the run goes on regardless). */
const warmUpTimeoutMs = 3000;
const connectAttempts = 5;

export interface BullmqWarmUpOptions {
  /** Also take, run and complete the jobs with a worker (a process that works on jobs); else only add them. */
  work: boolean;
  /**
   * Jobs sent one after the other, each waiting for the one before to complete (default 1): V8
   * compiles and optimises code after it has run a few times, and one job left the first job of a
   * paced upload run 1-2 ms slower to be queued and taken than the next ones.
   */
  rounds?: number;
  /** The worker's concurrency (default 1): that of the workers whose first job the warm-up is for. */
  concurrency?: number;
}

/**
 * Sends throw-away jobs through a private queue on this Redis, so that the first job of a run is
 * not the one that pays for BullMQ's first-time costs: Redis compiling its Lua scripts (shared by
 * every connection: Redis caches them), and this process compiling the code of adding a job and,
 * with `work`, of taking, running and completing one. The queue is removed afterwards; its name
 * (`wavefier-warm-up-<pid>-<random>`) is no run's, so no run counts the jobs. Never throws: a
 * warm-up that fails only leaves those costs to the first real job.
 */
export async function warmUpBullmq(redisUrl: string, options: BullmqWarmUpOptions): Promise<boolean> {
  const name = `wavefier-warm-up-${process.pid}-${randomBytes(4).toString('hex')}`;
  const rounds = Math.max(1, Math.floor(options.rounds ?? 1));
  // A Redis that is not there (yet) is not waited for: its connections give up instead of retrying for ever.
  const connection = { ...bullmqConnection(redisUrl), retryStrategy: (times: number) => (times > connectAttempts ? null : 200) };
  const queue = new Queue(name, { connection });
  queue.on('error', () => undefined);
  let worker: Worker | undefined;
  const attempt = async (): Promise<boolean> => {
    if (options.work) {
      const current = new Worker(name, () => Promise.resolve('warm'), { connection, concurrency: Math.max(1, options.concurrency ?? 1) });
      worker = current;
      current.on('error', () => undefined);
      await current.waitUntilReady();
    }
    for (let round = 0; round < rounds; round++) {
      const finished = worker === undefined ? Promise.resolve() : new Promise((resolve) => worker?.once('completed', resolve));
      await queue.add('warm-up', { warmUp: true }, { removeOnComplete: true, removeOnFail: true });
      await finished;
    }
    return true;
  };
  const warm = await withinTime(attempt().catch(() => false), warmUpTimeoutMs, () => false);
  if (!warm) {
    // Redis did not answer: its connections give up by themselves, nothing is waited for.
    void worker?.close(true).catch(() => undefined);
    void queue.close().catch(() => undefined);
    return false;
  }
  if (worker !== undefined) await withinTime(worker.close().catch(() => undefined), warmUpTimeoutMs, () => undefined);
  await withinTime(queue.obliterate({ force: true }).catch(() => undefined), warmUpTimeoutMs, () => undefined);
  await withinTime(queue.close().catch(() => undefined), warmUpTimeoutMs, () => undefined);
  return true;
}
