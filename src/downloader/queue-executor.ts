import type { ChunkShapeAnnouncement } from '../common/stream-schedule.js';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CleanupStack } from '../common/cleanup.js';
import { definedProps } from '../common/defined.js';
import { errorMessage } from '../common/errors.js';
import type { EventLog } from '../common/event-log.js';
import type { Output } from '../common/output.js';
import { startPrivateRedis } from '../redis/private-server.js';
import type { ChunkExecutor, ExecutorJob, ExecutorTarget, ReadyNote } from './chunk-executor.js';
import { downloadJobOptions, newDownloadQueueName, type JobSettings } from './download-job.js';
import { DownloadRegistration } from './download-registry.js';
import type { EarlyStart } from './early-start.js';
import { stopTakingChunks } from './interrupted-stop.js';
import { LostJobWatchdog } from './lost-job-watchdog.js';
import { defaultWorkerConcurrency, DownloadWorkerPool } from './worker-pool.js';

/** After a Ctrl-C: how long a worker process may take to stop. */
const interruptedWorkerGraceMs = 2000;

/** Room in the queue's event stream, which carries the workers' answers (5 events per chunk). */
const answerStreamLength = 100_000;

type QueueModules = Pick<typeof import('bullmq'), 'Queue'> &
  Pick<typeof import('../redis/index.js'), 'bullmqConnection' | 'connectRedis' | 'warmUpBullmq'> &
  Pick<typeof import('./worker-answers.js'), 'WorkerAnswers'>;

/** BullMQ, ioredis and the answer stream: a few hundred milliseconds of loading, started while the catalog answers. */
export async function queueModules(): Promise<QueueModules> {
  const [{ Queue }, { bullmqConnection, connectRedis, warmUpBullmq }, { WorkerAnswers }] = await Promise.all([
    import('bullmq'),
    import('../redis/index.js'),
    import('./worker-answers.js'),
  ]);
  return { Queue, bullmqConnection, connectRedis, warmUpBullmq, WorkerAnswers };
}

/** The queue's Redis, connected: the one given, the early start's, or a private redis-server started now. */
export interface QueueRedis {
  modules: QueueModules;
  redisUrl: string;
  redis: Redis;
}

export async function connectQueueRedis(
  modules: QueueModules,
  options: { redisUrl?: string | undefined; early?: EarlyStart | undefined },
  cleanup: CleanupStack,
): Promise<QueueRedis> {
  let redisUrl = options.redisUrl;
  if (options.early !== undefined) {
    const { privateRedis, redisUrl: earlyUrl } = await options.early.services;
    redisUrl = earlyUrl;
    if (privateRedis !== undefined) cleanup.push('stopping the private redis-server', () => privateRedis.stop());
  } else if (redisUrl === undefined) {
    const server = await startPrivateRedis();
    redisUrl = server.url;
    // Pushed first, so stopped last: the queue and the worker processes still use it while they stop.
    cleanup.push('stopping the private redis-server', () => server.stop());
  }
  const redis = await modules.connectRedis(redisUrl);
  cleanup.push('disconnecting from Redis', () => redis.disconnect());
  return { modules, redisUrl, redis };
}

export interface QueueExecutorOptions {
  connected: QueueRedis;
  jobs: JobSettings;
  rucioHost: string;
  workers: number;
  workerConcurrency?: number | undefined;
  logDir: string;
  workerRucioSettings: unknown;
  workerEnv?: NodeJS.ProcessEnv | undefined;
  early?: EarlyStart | undefined;
  /** Whether the run was stopped by a signal (its worker processes then get a short grace). */
  interrupted: () => boolean;
  log: EventLog;
  output: Output;
  cleanup: CleanupStack;
  /** Pushes the steps that end the log: run after the workers and the answer stream stopped, before the queue is removed. */
  pushLogEnd: () => void;
  now: () => number;
}

/**
 * Sets up the run's own queue on Redis, the reader of its answers and the worker processes on this
 * host (or takes over those of the early start), and registers the run for `download-worker`
 * processes on other hosts. Every step's undoing goes on `cleanup`.
 */
export async function startQueueExecutor(options: QueueExecutorOptions): Promise<QueueExecutor> {
  const { connected, log, cleanup, early, jobs } = options;
  const { modules, redisUrl, redis } = connected;
  const connection = modules.bullmqConnection(redisUrl);
  const queueName = early?.queueName ?? newDownloadQueueName(jobs.scope, jobs.dataset);
  // The answers travel in the queue's event stream: room for a long backlog of them.
  const queue = new modules.Queue(queueName, { connection, streams: { events: { maxLen: answerStreamLength } } });
  queue.on('error', (error) => log.diagnostic('warn', 'download queue connection error', { error: errorMessage(error) }));
  // Nothing of this queue outlives the run: what was not verified is found again by the next poller.
  cleanup.push('removing the download queue', async () => {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  });
  options.pushLogEnd();
  const executor = new QueueExecutor(queue, redis, jobs, log, options.now);
  const answers = new modules.WorkerAnswers(queueName, connection, executor.answerHandlers(), log);
  cleanup.push('closing the answer stream', () => answers.close());
  // The first chunk's job should not be the one that compiles the adding of jobs (here and in Redis).
  await Promise.all([queue.waitUntilReady(), answers.ready(), modules.warmUpBullmq(redisUrl, { work: false })]);
  const registration = await DownloadRegistration.register(
    redis,
    { queue: queueName, run: jobs.run, scope: jobs.scope, dataset: jobs.dataset, rucioHost: options.rucioHost },
    (error) => log.diagnostic('warn', 'could not renew the download run in the registry of active runs', { error: errorMessage(error) }),
  );
  cleanup.push('leaving the registry of active download runs', () => registration.remove());
  // Started early (the CLI spawns them before it loads this module), or now.
  const earlyPool = early === undefined ? undefined : (await early.services).pool;
  early?.attachLog(log);
  const workers =
    earlyPool ??
    new DownloadWorkerPool({
      workers: options.workers,
      concurrency: options.workerConcurrency ?? defaultWorkerConcurrency,
      redisUrl,
      queueName,
      logDir: options.logDir,
      rucioSettings: options.workerRucioSettings,
      ...definedProps({ env: options.workerEnv }),
      log,
      output: options.output,
    });
  // After a Ctrl-C a worker process gets a short moment to stop by itself (DESIGN §5: 5 s in all).
  cleanup.push('stopping the download worker processes', () => workers.close(options.interrupted() ? interruptedWorkerGraceMs : undefined));
  if (earlyPool === undefined) workers.start();
  executor.workers = workers;
  executor.localWorkers = options.workers;
  return executor;
}

/**
 * Chunks as jobs of the run's BullMQ queue, done by `download-worker` processes (this host's, and
 * any on other hosts serving the same Redis); their answers come back through the queue's event
 * stream, and the lost-job watchdog queues again a job that vanished without one.
 */
export class QueueExecutor implements ChunkExecutor {
  workers: DownloadWorkerPool | undefined;
  /** Worker processes this run keeps on this host. */
  localWorkers = 0;
  private target: ExecutorTarget | undefined;
  private watchdog: LostJobWatchdog | undefined;

  constructor(
    private readonly queue: Queue,
    private readonly redis: Redis,
    private readonly jobs: JobSettings,
    private readonly log: EventLog,
    private readonly now: () => number,
  ) {}

  /** Where the answer stream delivers: the attached coordinator. */
  answerHandlers(): Pick<ExecutorTarget, 'completed' | 'failed'> {
    return {
      completed: (answer) => this.target?.completed(answer),
      failed: (jobId, reason) => this.target?.failed(jobId, reason),
    };
  }

  attach(target: ExecutorTarget): void {
    this.target = target;
    this.watchdog = new LostJobWatchdog({
      pending: target.pending,
      queue: this.queue,
      redis: this.redis,
      scope: this.jobs.scope,
      log: this.log,
      requeue: (chunk) => target.requeue(chunk),
      now: this.now,
    });
  }

  /** One round trip for a poll's new files: one by one costs ~0.1 ms more CPU per file (BullMQ). */
  async add(jobs: readonly ExecutorJob[]): Promise<void> {
    const bulk = jobs.map(({ data, delayMs }) => ({ name: 'chunk', data, opts: downloadJobOptions(this.jobs, data.name, data.corruptions, delayMs) }));
    if (bulk.length === 1 && bulk[0] !== undefined) await this.queue.add(bulk[0].name, bulk[0].data, bulk[0].opts);
    else await this.queue.addBulk(bulk);
  }

  async check(): Promise<void> {
    await this.watchdog?.check();
  }

  async whenReady(signal: AbortSignal): Promise<void> {
    await this.workers?.whenReady(signal);
  }

  readyNote(): ReadyNote {
    const ready = this.workers?.ready ?? 0;
    return { settings: { workers_ready: ready }, text: `${ready} worker processes connected` };
  }

  verifiedBy(): string {
    const local = this.localWorkers;
    return local === 0 ? '`download-worker` processes started elsewhere' : `${local} worker processes on this host`;
  }

  /** This host's worker processes are told (those on other hosts learn the shape from their first chunk). */
  expectChunkShape(shape: ChunkShapeAnnouncement): Promise<string | undefined> {
    const told = this.workers?.tellChunkShape(shape) ?? 0;
    return Promise.resolve(told === 0 ? undefined : `${told} worker process${told === 1 ? '' : 'es'} on this host`);
  }

  stopTaking(): Promise<void> {
    return stopTakingChunks(this.queue, this.target?.pending ?? new Map(), this.log, this.now);
  }
}
