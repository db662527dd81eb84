import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { UsageError, errorMessage } from '../common/errors.js';
import { openEventLog, type EventLog } from '../common/event-log.js';
import { boundedCleanup } from '../common/cleanup.js';
import { formatDuration } from '../common/duration.js';
import { gpsToUnixMs, unixMsToGps } from '../common/gps.js';
import { SlidingWindow } from '../common/live-stats.js';
import { newRunId, runTag } from '../common/run-id.js';
import { uploadLogFile, type RunEvent, type UploadChunkEvent } from '../common/log-records.js';
import type { Output } from '../common/output.js';
import { bullmqConnection, connectRedis, startPrivateRedis } from '../redis/index.js';
import type { RucioClient, RuleRequest } from '../rucio/index.js';
import { GapError, applyGapPolicy, chunkName, openSource, type Chunk, type ChunkSource, type GapDecision, type GapPolicy, type SourceSpec } from '../strain/index.js';
import { uploadJobId, uploadQueueName, type UploadJob } from './job.js';
import { runPacer, type LatePolicy, type PacerTick } from './pacer.js';
import { RunState, type RunSettings } from './run-state.js';
import { startUploadWorker } from './upload-worker.js';

export interface UploadRunOptions {
  /** Redis to use; when absent a private redis-server is started for the run. */
  redisUrl?: string;
  rucio: RucioClient;
  /** Continue this run (its settings come from Redis); the source and schedule flags are then ignored. */
  resume?: string;
  runId?: string;
  source?: SourceSpec;
  periodMs: number;
  rateFactor: number;
  asFastAsPossible: boolean;
  count?: number;
  durationMs?: number;
  startAt?: number;
  alignGps: boolean;
  latePolicy: LatePolicy;
  gapPolicy: GapPolicy;
  scope: string;
  dataset?: string;
  rse: string;
  /** TAG of the chunk names; default `WAVEFIER_<run id>` (see runTag). */
  tag?: string;
  replicateTo?: string;
  closeDataset: boolean;
  /** Upload concurrency in this process; 0 leaves the work to `wavefier upload-worker` processes. */
  workers: number;
  attempts: number;
  logDir: string;
  /** How long to wait, after the last chunk, for the uploads still in flight. */
  drainTimeoutMs: number;
  signal: AbortSignal;
  output: Output;
  now?: () => number;
}

export interface UploadSummary {
  run: string;
  scope: string;
  dataset: string;
  rse: string;
  scheduled: number;
  enqueued: number;
  uploaded: number;
  failed: number;
  skipped: number;
  late: number;
  interrupted: boolean;
  logFile: string;
  wallMs: number;
  pacingErrorMs: { p50?: number; p99?: number; max?: number };
  uploadLatencyMs: { p50?: number; p99?: number; max?: number };
}

/** Upload jobs are retried with exponential backoff starting here (0.5 s, 1 s, 2 s, ...). */
const backoffDelayMs = 500;
/** Chunk 0 of a new run is due this long after the run is set up (enough to enqueue the first job). */
const startLeadMs = 20;
/** As-fast-as-possible mode keeps at most this many chunks per worker waiting in Redis. */
const outstandingPerWorker = 16;

/**
 * One upload run: paces chunks from the source onto the BullMQ queue at their due times, uploads them
 * with in-process workers (and any `upload-worker` processes on the same Redis), waits for the last
 * ones, reconciles so that every scheduled chunk is accounted for, and logs everything.
 */
export async function runUpload(options: UploadRunOptions): Promise<UploadSummary> {
  const now = options.now ?? Date.now;
  const started = now();
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) {
      try {
        await boundedCleanup(step());
      } catch (error) {
        options.output.warn(`cleanup step failed: ${errorMessage(error)}`);
      }
    }
  };

  try {
    let redisUrl = options.redisUrl;
    if (redisUrl === undefined) {
      const privateRedis = await startPrivateRedis();
      redisUrl = privateRedis.url;
      cleanups.push(() => privateRedis.stop());
      options.output.info(`started a private redis-server at ${redisUrl} for this run`);
    }
    const redis = await connectRedis(redisUrl);
    cleanups.push(() => redis.disconnect());

    // A resumed run keeps its settings and schedule; a new one fixes its schedule only once the slow
    // set-up below is done, so that chunk 0 is not already late when pacing starts.
    const resumed = options.resume === undefined ? undefined : await RunState.load(redis, options.resume);
    const plan = resumed?.settings ?? planRun(options, now);
    const logFile = join(plan.logDir, plan.runId, uploadLogFile);
    const log = openEventLog(logFile);
    cleanups.push(() => log.close());
    await ensureDataset(options.rucio, plan, options.replicateTo);

    const queue = new Queue(uploadQueueName(plan.runId), { connection: bullmqConnection(redisUrl) });
    // A Redis restart surfaces here as connection errors while ioredis reconnects: note them, go on.
    queue.on('error', (error) => log.diagnostic('warn', 'upload queue connection error', { error: errorMessage(error) }));
    cleanups.push(() => queue.close());
    const stats = new RunStats(now);
    if (options.workers > 0) {
      const worker: Worker = startUploadWorker({
        run: plan.runId,
        redisUrl,
        redis,
        rucio: options.rucio,
        concurrency: options.workers,
        logFor: () => log,
        now,
        onOutcome: (event) => stats.outcome(event),
        onError: (error) => log.diagnostic('warn', 'upload worker error', { error: errorMessage(error) }),
      });
      // Closing waits for in-flight uploads; the drain below already bounded that wait.
      cleanups.push(() => worker.close());
    }

    const source = await openSource(plan.source as SourceSpec, { runId: plan.runId, gpsStart: plan.gpsStart, duration: plan.duration });
    cleanups.push(() => source.close());
    // Pay the first-time costs (connection, code compilation, the first read) before the schedule
    // is fixed, so that the first chunks are not late.
    await queue.waitUntilReady();
    source.chunk(0);
    const { state, settings, next } = resumed ?? (await createRun(redis, plan, options.alignGps, now));
    const runStarted: RunEvent = {
      event: 'run_started',
      run: settings.runId,
      side: 'upload',
      scope: settings.scope,
      dataset: settings.dataset,
      period_ms: settings.periodMs,
      t0: settings.t0,
      ...(settings.count === undefined ? {} : { scheduled: settings.count }),
      settings: {
        source: settings.source,
        rse: settings.rse,
        rate_factor: settings.rateFactor,
        interval_ms: settings.intervalMs,
        late_policy: settings.latePolicy,
        gap_policy: settings.gapPolicy,
        workers: options.workers,
        resumed_at: options.resume === undefined ? undefined : next,
      },
    };
    log.write(runStarted);
    const pump = await EventPump.start(state, log, logFile);
    cleanups.push(() => pump.stop());
    await state.setStatus('running');

    const countsBefore = await state.counts();
    const doneBefore = (countsBefore.uploaded ?? 0) + (countsBefore.failed ?? 0);
    const producer = new Producer({ queue, state, source, settings, log, stats, attempts: options.attempts, now, doneBefore });
    const progress = startProgress(options.output, stats, settings, state, (counts) => {
      const doneHere = (counts.uploaded ?? 0) + (counts.failed ?? 0) - doneBefore;
      return producer.enqueued - doneHere;
    }, doneBefore + (countsBefore.skipped ?? 0));
    cleanups.push(() => progress.stop());

    const nextUnsent = await runPacer({
      schedule: { t0: settings.t0, intervalMs: settings.intervalMs },
      from: next,
      ...(settings.count === undefined ? {} : { until: settings.count }),
      latePolicy: settings.latePolicy,
      signal: options.signal,
      now,
      emit: async (tick) => {
        await producer.enqueue(tick);
        if (settings.intervalMs === 0) await producer.waitForRoom(Math.max(1, options.workers) * outstandingPerWorker, options.signal);
      },
      skipLate: (tick) => producer.skip(tick, 'late', 'emitted too late for its slot (--late skip)'),
    });
    await state.setNext(nextUnsent);

    const interrupted = options.signal.aborted;
    const drainTimeout = interrupted ? Math.min(options.drainTimeoutMs, 10_000) : options.drainTimeoutMs;
    if (interrupted) options.output.info(`stopping: waiting up to ${formatDuration(drainTimeout)} for uploads in flight`);
    await producer.drain(nextUnsent, drainTimeout);
    if (!interrupted) await producer.reconcile(nextUnsent, options.drainTimeoutMs);
    await pump.flush();

    if (options.closeDataset && !interrupted) {
      await options.rucio.closeDataset(settings.scope, settings.dataset);
    }
    const counts = await state.counts();
    // Every chunk has its outcome by now; a resumed run enqueues unfinished chunks with fresh samples.
    if (!interrupted) await state.dropSamples();
    await state.setStatus(interrupted ? 'interrupted' : 'finished');
    log.write({
      event: 'run_finished',
      run: settings.runId,
      side: 'upload',
      scope: settings.scope,
      dataset: settings.dataset,
      ...(settings.count === undefined ? {} : { scheduled: settings.count }),
      counts: { enqueued: producer.enqueued, ...counts },
      ...(interrupted ? { reason: 'interrupted' } : {}),
    } satisfies RunEvent);
    progress.stop();

    return {
      run: settings.runId,
      scope: settings.scope,
      dataset: settings.dataset,
      rse: settings.rse,
      scheduled: settings.count ?? nextUnsent,
      enqueued: producer.enqueued,
      uploaded: counts.uploaded ?? 0,
      failed: counts.failed ?? 0,
      skipped: counts.skipped ?? 0,
      late: producer.late,
      interrupted,
      logFile,
      wallMs: now() - started,
      pacingErrorMs: stats.pacing.summary(),
      uploadLatencyMs: stats.upload.summary(),
    };
  } finally {
    await cleanup();
  }
}

/** The settings of a new run, before its schedule is fixed (t0 is set by createRun). */
function planRun(options: UploadRunOptions, now: () => number): RunSettings {
  if (!options.source) throw new UsageError('no --source given: pass an HDF5 file or "synthetic"');
  if (!(options.periodMs > 0)) throw new UsageError(`--period must be positive, got ${options.periodMs} ms`);
  if (!(options.rateFactor > 0)) throw new UsageError(`--rate-factor must be positive, got ${options.rateFactor}`);
  const runId = options.runId ?? newRunId(now());
  const count =
    options.count ?? (options.durationMs === undefined ? undefined : Math.floor(options.durationMs / options.periodMs));
  if (count !== undefined && count < 1) throw new UsageError('nothing to upload: --count/--duration gives fewer than one chunk');
  // With --align-gps chunk 0 is due on a whole GPS second far enough ahead to finish setting up.
  const alignedStart = Math.ceil(unixMsToGps((options.startAt ?? now()) + 1000));
  return {
    runId,
    t0: options.alignGps ? gpsToUnixMs(alignedStart) : (options.startAt ?? 0),
    periodMs: options.periodMs,
    rateFactor: options.rateFactor,
    intervalMs: options.asFastAsPossible ? 0 : options.periodMs / options.rateFactor,
    ...(count === undefined ? {} : { count }),
    gpsStart: options.alignGps ? alignedStart : Math.floor(unixMsToGps(options.startAt ?? now())),
    duration: options.periodMs / 1000,
    source: options.source,
    scope: options.scope,
    dataset: options.dataset ?? `wavefier-${runId}`,
    rse: options.rse,
    tag: options.tag ?? runTag(runId),
    latePolicy: options.latePolicy,
    gapPolicy: options.gapPolicy,
    logDir: options.logDir,
    createdAt: now(),
    rucioHost: options.rucio.config.rucioHost,
  };
}

/** Fixes the schedule (unless --start-at or --align-gps did) and records the run in Redis. */
async function createRun(
  redis: Redis,
  plan: RunSettings,
  aligned: boolean,
  now: () => number,
): Promise<{ state: RunState; settings: RunSettings; next: number }> {
  const settings: RunSettings = aligned || plan.t0 > 0 ? plan : { ...plan, t0: now() + startLeadMs };
  const state = await RunState.create(redis, settings);
  return { state, settings, next: 0 };
}

async function ensureDataset(
  rucio: RucioClient,
  settings: Pick<RunSettings, 'scope' | 'dataset' | 'rse'>,
  replicateTo: string | undefined,
): Promise<void> {
  const dids = [{ scope: settings.scope, name: settings.dataset }];
  const rules: RuleRequest[] = [{ dids, copies: 1, rseExpression: settings.rse, grouping: 'DATASET' }];
  if (replicateTo !== undefined) rules.push({ dids, copies: 1, rseExpression: replicateTo, grouping: 'DATASET' });
  await rucio.addDataset(settings.scope, settings.dataset, { rules });
}

class Producer {
  enqueued = 0;
  late = 0;

  constructor(
    private readonly deps: {
      queue: Queue;
      state: RunState;
      source: ChunkSource;
      settings: RunSettings;
      log: EventLog;
      stats: RunStats;
      attempts: number;
      now: () => number;
      /** Outcomes counted in Redis before this process started (a resumed run). */
      doneBefore: number;
    },
  ) {}

  async enqueue(tick: PacerTick): Promise<void> {
    const { settings, source, now } = this.deps;
    const chunk = source.chunk(tick.seq);
    const name = chunkName(chunk, settings.tag);
    let decision: GapDecision;
    try {
      decision = applyGapPolicy(chunk, settings.gapPolicy);
    } catch (error) {
      if (error instanceof GapError) {
        const failed: UploadChunkEvent = { ...this.eventBase(tick, name), event: 'failed', reason: 'gap', error: error.message };
        await this.deps.state.record('failed', tick.seq, failed);
      }
      throw error;
    }
    if (decision.action === 'skip') {
      const nan = decision.gap.nanSamples;
      await this.skip(tick, 'gap', `chunk holds ${nan} NaN samples (a gap in the source; --on-gap skip)`, name);
      return;
    }
    const tEnqueued = now();
    const job: UploadJob = {
      v: 2,
      run: settings.runId,
      seq: tick.seq,
      name,
      gps: chunk.gpsStart,
      scope: settings.scope,
      dataset: settings.dataset,
      rse: settings.rse,
      tag: settings.tag,
      tAvail: tick.tAvail,
      tEnqueued,
      late: tick.late,
      chunk: jobChunk(chunk),
    };
    // Before the job: a worker that takes it finds its samples.
    await this.deps.state.putSamples(tick.seq, chunk.samples);
    await this.deps.queue.add('chunk', job, {
      jobId: uploadJobId(settings.runId, tick.seq),
      attempts: this.deps.attempts,
      backoff: { type: 'exponential', delay: backoffDelayMs },
      // The worker has logged the outcome by the time a job completes or fails: keep Redis bounded.
      removeOnComplete: true,
      removeOnFail: true,
    });
    this.enqueued++;
    if (tick.late) this.late++;
    this.deps.stats.enqueued(tEnqueued - tick.tAvail);
    if (tick.seq % 64 === 0) await this.deps.state.setNext(tick.seq + 1);
  }

  async skip(tick: PacerTick, reason: 'late' | 'gap', error: string, knownName?: string): Promise<void> {
    const name = knownName ?? chunkName(this.deps.source.chunk(tick.seq), this.deps.settings.tag);
    const skipped: UploadChunkEvent = { ...this.eventBase(tick, name), event: 'skipped', reason, error };
    await this.deps.state.record('skipped', tick.seq, skipped);
    if (reason === 'late') this.late++;
  }

  private eventBase(tick: PacerTick, name: string): Omit<UploadChunkEvent, 'event'> {
    const { settings } = this.deps;
    return {
      run: settings.runId,
      seq: tick.seq,
      name,
      scope: settings.scope,
      dataset: settings.dataset,
      rse: settings.rse,
      gps: settings.gpsStart + tick.seq * settings.duration,
      t_avail: tick.tAvail,
      late: tick.late,
    };
  }

  /** Outcomes seen at the last look: they only grow, so a count below the limit needs no new look. */
  private doneSeen = 0;

  /** Back-pressure for unpaced runs: waits while too many chunks sit in Redis unprocessed. */
  async waitForRoom(maxOutstanding: number, signal: AbortSignal): Promise<void> {
    while (this.enqueued - this.doneSeen >= maxOutstanding && !signal.aborted) {
      const counts = await this.deps.state.counts();
      this.doneSeen = (counts.uploaded ?? 0) + (counts.failed ?? 0) - this.deps.doneBefore;
      if (this.enqueued - this.doneSeen < maxOutstanding) return;
      await sleep(5);
    }
  }

  /** Waits until every chunk below `until` has an outcome, or the timeout passes. */
  async drain(until: number, timeoutMs: number): Promise<void> {
    const deadline = this.deps.now() + timeoutMs;
    while (this.deps.now() < deadline) {
      if ((await this.deps.state.unaccounted(until)).length === 0) return;
      await sleep(50);
    }
  }

  /**
   * Makes sure no chunk is silently lost: a chunk with no outcome whose job is gone from the queue (a
   * Redis restart without persistence, a job removed by hand) is enqueued again; whatever still has no
   * outcome after a second drain is logged as failed, with the reason.
   */
  async reconcile(until: number, timeoutMs: number): Promise<void> {
    const { queue, state, settings, log } = this.deps;
    const missing = await state.unaccounted(until);
    if (missing.length === 0) return;
    for (const seq of missing) {
      const jobState = await queue.getJobState(uploadJobId(settings.runId, seq));
      if (jobState === 'unknown' || jobState === 'completed' || jobState === 'failed') {
        log.diagnostic('warn', 'chunk lost from the queue, enqueuing it again', { seq });
        await queue.remove(uploadJobId(settings.runId, seq)).catch(() => undefined);
        // Unpaced runs have no schedule to recover t_avail from: the chunk is available again now.
        const tAvail = settings.intervalMs === 0 ? this.deps.now() : settings.t0 + seq * settings.intervalMs;
        await this.enqueue({ seq, tAvail, late: true });
      }
    }
    await this.drain(until, timeoutMs);
    for (const seq of await state.unaccounted(until)) {
      // Take the job out first: a chunk logged as failed must not be uploaded behind the log's back.
      await queue.remove(uploadJobId(settings.runId, seq)).catch(() => undefined);
      const chunk = this.deps.source.chunk(seq);
      const failed: UploadChunkEvent = {
        ...this.eventBase({ seq, tAvail: settings.t0 + seq * settings.intervalMs, late: false }, chunkName(chunk, settings.tag)),
        event: 'failed',
        error: `not uploaded within the drain timeout (${formatDuration(timeoutMs)}) after the last chunk; is an upload worker running?`,
      };
      await state.record('failed', seq, failed);
    }
  }
}

function jobChunk(chunk: Chunk): UploadJob['chunk'] {
  return {
    duration: chunk.duration,
    sampleRate: chunk.sampleRate,
    detector: chunk.detector,
    observatory: chunk.observatory,
    sourceKind: chunk.source.kind,
    ...(chunk.source.file === undefined ? {} : { sourceFile: chunk.source.file }),
    sourceGps: chunk.source.gpsStart,
    ...(chunk.dqMask === undefined ? {} : { dqMask: chunk.dqMask }),
  };
}

/** Live statistics of this process: pacing error and upload latency, over the last minute and the run. */
class RunStats {
  readonly pacing = new Summary();
  readonly upload = new Summary();

  constructor(private readonly now: () => number) {}

  enqueued(pacingErrorMs: number): void {
    this.pacing.add(pacingErrorMs, this.now());
  }

  outcome(event: UploadChunkEvent): void {
    if (event.event === 'uploaded' && event.t_uploaded !== undefined) {
      this.upload.add(event.t_uploaded - event.t_avail, this.now());
    }
  }
}

class Summary {
  private readonly lastMinute = new SlidingWindow(60_000);
  private readonly whole = new SlidingWindow(Number.POSITIVE_INFINITY, 200_000);
  private maximum: number | undefined;

  add(value: number, at: number): void {
    this.lastMinute.add(value, at);
    this.whole.add(value, at);
    this.maximum = this.maximum === undefined ? value : Math.max(this.maximum, value);
  }

  recent(now: number): { p50?: number; p99?: number } {
    const [p50, p99] = this.lastMinute.percentiles([0.5, 0.99], now);
    return { ...(p50 === undefined ? {} : { p50 }), ...(p99 === undefined ? {} : { p99 }) };
  }

  summary(): { p50?: number; p99?: number; max?: number } {
    const [p50, p99] = this.whole.percentiles([0.5, 0.99], Number.POSITIVE_INFINITY);
    return {
      ...(p50 === undefined ? {} : { p50 }),
      ...(p99 === undefined ? {} : { p99 }),
      ...(this.maximum === undefined ? {} : { max: this.maximum }),
    };
  }
}

/**
 * Time left in a run: a paced run ends with its schedule; an unpaced one at the rate seen since
 * `since` (undefined until a chunk has finished).
 */
export function remainingTimeMs(
  settings: Pick<RunSettings, 't0' | 'count' | 'intervalMs'>,
  remaining: number,
  now: { done: number; at: number },
  since: { done: number; at: number },
): number | undefined {
  if (settings.intervalMs > 0) return Math.max(0, settings.t0 + (settings.count ?? 0) * settings.intervalMs - now.at);
  const rate = (now.done - since.done) / (now.at - since.at);
  return rate > 0 && Number.isFinite(rate) ? Math.max(0, remaining) / rate : undefined;
}

function startProgress(
  output: Output,
  stats: RunStats,
  settings: RunSettings,
  state: RunState,
  /** Chunks this process enqueued that no worker (on any host) has finished: the queue's depth. */
  inQueue: (counts: Record<string, number>) => number,
  doneAtStart: number,
): { stop(): void } {
  const ms = (value: number | undefined): string => (value === undefined ? '-' : formatDuration(value));
  // The rate is measured from the start of this process's part of the run.
  const first = { done: doneAtStart, at: Date.now() };
  const etaOf = (remaining: number, done: number, now: number): string => {
    const eta = remainingTimeMs(settings, remaining, { done, at: now }, first);
    return eta === undefined ? '-' : formatDuration(eta);
  };
  const line = async (): Promise<string> => {
    const counts = await state.counts();
    const now = Date.now();
    const pacing = stats.pacing.recent(now);
    const upload = stats.upload.recent(now);
    const done = (counts.uploaded ?? 0) + (counts.failed ?? 0) + (counts.skipped ?? 0);
    const total = settings.count;
    const eta = total === undefined ? '' : ` · ETA ${etaOf(total - done, done, now)}`;
    return (
      `${counts.uploaded ?? 0}${total === undefined ? '' : `/${total}`} uploaded · ${counts.failed ?? 0} failed · ` +
      `${counts.skipped ?? 0} skipped · ${Math.max(0, inQueue(counts))} queued · pacing p50 ${ms(pacing.p50)} p99 ${ms(pacing.p99)} · ` +
      `upload p50 ${ms(upload.p50)} p99 ${ms(upload.p99)} (last min) · ${done} done${eta}`
    );
  };
  const interactive = output.interactive;
  const everyMs = interactive ? 1000 : 60_000;
  const timer = setInterval(() => {
    line()
      .then((text) => (interactive ? output.status(text) : output.info(`upload ${settings.runId}: ${text}`)))
      .catch(() => undefined);
  }, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      output.clearStatus();
    },
  };
}

/**
 * Writes the chunk outcomes that workers (here or on other hosts) recorded in the run state into
 * upload.jsonl: the producer is the log's single writer, and a record and its log line are one atomic
 * step in Redis, so a worker killed at any moment leaves neither an outcome without a line nor a line
 * twice. After a crash, lines already in the file are not written again.
 */
class EventPump {
  private last = '0';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(
    private readonly state: RunState,
    private readonly log: EventLog,
    private readonly written: Set<string>,
  ) {}

  static async start(state: RunState, log: EventLog, logFile: string): Promise<EventPump> {
    const pump = new EventPump(state, log, await loggedOutcomes(logFile));
    pump.schedule();
    return pump;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.drainOnce()
        .then(() => undefined)
        .catch((error: unknown) => this.log.diagnostic('warn', 'reading recorded outcomes failed; retrying', { error: errorMessage(error) }))
        .finally(() => this.schedule());
    }, 50);
  }

  /** Writes what is in the stream; resolves true when it was empty. */
  private async drainOnce(): Promise<boolean> {
    const entries = await this.state.eventsAfter(this.last);
    for (const { id, event } of entries) {
      const key = `${String(event.event)}:${String(event.seq)}`;
      if (!this.written.has(key)) {
        this.written.add(key);
        this.log.write(event);
      }
      this.last = id;
    }
    if (entries.length > 0) await this.state.trimEvents(this.last);
    return entries.length === 0;
  }

  /** Writes everything recorded so far (after the last outcome is in). */
  async flush(): Promise<void> {
    await this.running;
    for (let attempt = 0; attempt < 100 && !(await this.drainOnce()); attempt++);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

/** `event:seq` of the chunk outcomes an earlier process of this run already wrote to the log. */
async function loggedOutcomes(logFile: string): Promise<Set<string>> {
  const written = new Set<string>();
  let text: string;
  try {
    text = await readFile(logFile, 'utf8');
  } catch {
    return written;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"seq"')) continue;
    try {
      const record = JSON.parse(line) as { event?: unknown; seq?: unknown };
      if (record.event === 'uploaded' || record.event === 'failed' || record.event === 'skipped') {
        written.add(`${record.event}:${String(record.seq)}`);
      }
    } catch {
      // A torn last line of a killed process: its record is still in the stream and is written again.
    }
  }
  return written;
}
