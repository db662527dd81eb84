import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { CleanupStack } from '../common/cleanup.js';
import { definedProps } from '../common/defined.js';
import { formatDuration } from '../common/duration.js';
import { UsageError, errorMessage } from '../common/errors.js';
import { openEventLog } from '../common/event-log.js';
import { redactUrl } from '../common/redact.js';
import { confinedPath } from '../common/safe-path.js';
import { packageVersion } from '../common/version.js';
import { onForcedExit } from '../common/shutdown.js';
import { checkWritableDir } from '../common/writable-dir.js';
import { uploadLogFile, type RunEvent } from '../common/log-records.js';
import type { ChunkShapeAnnouncement } from '../common/stream-schedule.js';
import type { Output } from '../common/output.js';
import { bullmqConnection, connectRedis, startPrivateRedis, warmUpBullmq, type PrivateRedis } from '../redis/index.js';
import { attachEndpoint, type RucioClient } from '../rucio/index.js';
import { chunkShape, openSource, type Chunk, type SourceSpec } from '../strain/index.js';
import { EventPump } from './event-pump.js';
import { uploadQueueName } from './job.js';
import { runPacer } from './pacer.js';
import { Producer } from './producer.js';
import { prepareUploadRun, type PreparedRun } from './preflight.js';
import { ensureDataset, fixSchedule, resumeConflicts, type ResumeFlags, type RunRequest, type RunSettings } from './run-plan.js';
import { describeReplay } from './replay-description.js';
import { replayLine, replaySettings, type ReplayDescription } from './replay.js';
import { startProgress } from './run-progress.js';
import { RunState } from './run-state.js';
import { RunStats, type TimingPercentiles } from './run-stats.js';
import { startUploadWorker } from './upload-worker.js';
import { warmUpUploads } from './upload-warm-up.js';
import { LocalSamples } from './local-samples.js';

export interface UploadRunOptions extends RunRequest {
  /** The new run, already checked and its source opened (prepareUploadRun); prepared here when absent. */
  prepared?: PreparedRun;
  /** Redis to use; when absent a private redis-server is started for the run. */
  redisUrl?: string;
  /** Without redisUrl: the private redis-server the caller already started (the CLI, while it loads this module). */
  privateRedis?: Promise<PrivateRedis>;
  rucio: RucioClient;
  /** Continue this run (its settings come from Redis); flags given again must agree with them (resumeFlags). */
  resume?: string;
  /** With `resume`: the run-defining flags the user gave on the command line, checked against the run's settings. */
  resumeFlags?: ResumeFlags;
  replicateTo?: string;
  /** The new dataset's lifetime and its rules', seconds (--lifetime); none by default. */
  lifetimeSeconds?: number;
  closeDataset: boolean;
  /** Upload concurrency in this process; 0 leaves the work to `wavefier upload-worker` processes. */
  workers: number;
  attempts: number;
  /** How long to wait, after the last chunk, for the uploads still in flight. */
  drainTimeoutMs: number;
  /**
   * A new run's schedule (t0) is fixed only once this resolves, after the set-up: `wavefier rehearse`
   * waits for its download to be ready, so that chunk 0 is measured like any other.
   */
  startGate?: () => Promise<void>;
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
  /** Chunks whose source marks a second as failing data quality (sent or skipped, per --on-dq). */
  dqFlagged: number;
  interrupted: boolean;
  logFile: string;
  wallMs: number;
  pacingErrorMs: TimingPercentiles;
  uploadLatencyMs: TimingPercentiles;
  /**
   * Attach requests this process's workers sent (each registers and attaches one or more chunks:
   * chunks that finish side by side share one), HTTP retries included.
   */
  attachRequests: number;
}

/** As-fast-as-possible mode keeps at most this many chunks per worker waiting in Redis. */
const outstandingPerWorker = 16;

/** As-fast-as-possible mode queues its chunks this many at a time (Producer.enqueueBatch). */
const unpacedBatch = 16;

/**
 * Throw-away jobs the warm-up sends through BullMQ, taken by a worker of the run's concurrency (see
 * warmUpBullmq): with one, chunk 0 still took 1-2 ms longer from its due time to its worker.
 */
const bullmqWarmUpRounds = 8;

/** After a Ctrl-C, how long uploads in flight may take to land before the run stops without them. */
const interruptedDrainMs = 2000;

/**
 * One upload run: paces chunks from the source onto the BullMQ queue at their due times, uploads them
 * with in-process workers (and any `upload-worker` processes on the same Redis), waits for the last
 * ones, reconciles so that every scheduled chunk is accounted for, and logs everything.
 */
export async function runUpload(options: UploadRunOptions): Promise<UploadSummary> {
  const now = options.now ?? Date.now;
  const started = now();
  const cleanup = new CleanupStack({ onError: (message) => options.output.warn(`cleanup: ${message}`) });

  try {
    // A new run's request is checked, and its source opened, before anything starts: a usage problem
    // exits 2 at once and leaves no Redis, dataset or run directory behind.
    const fresh = options.resume === undefined ? (options.prepared ?? (await prepareUploadRun(options, now))) : undefined;
    if (fresh !== undefined) cleanup.push('closing the source', () => fresh.source.close());

    let redisUrl = options.redisUrl;
    if (redisUrl === undefined) {
      const privateRedis = await (options.privateRedis ?? startPrivateRedis());
      redisUrl = privateRedis.url;
      // Pushed first, so stopped last: everything below still talks to it while it stops.
      cleanup.push('stopping the private redis-server', () => privateRedis.stop());
      options.output.info(`started a private redis-server at ${redisUrl} (pid ${privateRedis.pid ?? '?'}) for this run`);
    }
    const redis = await connectRedis(redisUrl);
    cleanup.push('disconnecting from Redis', () => redis.disconnect());

    // A resumed run keeps its settings and schedule; a new one fixes its schedule only once the slow
    // set-up below is done, so that chunk 0 is not already late when pacing starts.
    const resumed = options.resume === undefined ? undefined : await RunState.load(redis, options.resume);
    const conflicts = resumed === undefined ? [] : resumeConflicts(resumed.settings, options.resumeFlags ?? {});
    if (resumed !== undefined && conflicts.length > 0) {
      throw new UsageError(
        `--resume ${resumed.settings.runId} continues the run with the settings it was started with (kept in Redis), and ${conflicts.length === 1 ? 'this flag disagrees' : 'these flags disagree'}: ` +
          `${conflicts.join(', ')}; leave ${conflicts.length === 1 ? 'it' : 'them'} out, or give the run's value`,
      );
    }
    const plan = resumed?.settings ?? (fresh === undefined ? undefined : { ...fresh.plan, rucioHost: options.rucio.config.rucioHost });
    if (plan === undefined) throw new Error('unreachable: a run is either new or resumed');
    if (resumed !== undefined) await checkWritableDir(plan.logDir, '--log-dir');
    const logFile = join(confinedPath(plan.logDir, plan.runId, options.resume === undefined ? '--run-id' : '--resume'), uploadLogFile);
    // The server's version (`GET /ping`) for the report's header, asked once alongside; unanswered, it is left out.
    const [rucioVersion] = await Promise.all([
      options.rucio.ping().then(
        (answer) => answer.version,
        () => undefined,
      ),
      ensureDataset(options.rucio, plan, definedProps({ replicateTo: options.replicateTo, lifetimeSeconds: options.lifetimeSeconds })),
    ]);
    const log = openEventLog(logFile);
    cleanup.push('closing the upload log', () => log.close());

    const queue = new Queue(uploadQueueName(plan.runId), { connection: bullmqConnection(redisUrl) });
    // A Redis restart surfaces here as connection errors while ioredis reconnects: note them, go on.
    queue.on('error', (error) => log.diagnostic('warn', 'upload queue connection error', { error: errorMessage(error) }));
    cleanup.push('closing the upload queue', () => queue.close());
    const stats = new RunStats(now);
    let worker: ReturnType<typeof startUploadWorker> | undefined;
    const attachRequests = (): number => options.rucio.stats.byEndpoint[attachEndpoint] ?? 0;
    const attachRequestsBefore = attachRequests();
    // Enough for every chunk an unpaced run keeps waiting (see waitForRoom); beyond, workers read Redis.
    const localSamples = options.workers > 0 ? new LocalSamples(Math.max(256, options.workers * outstandingPerWorker) + unpacedBatch) : undefined;
    if (options.workers > 0) {
      const localWorker = startUploadWorker({
        run: plan.runId,
        redisUrl,
        redis,
        ...definedProps({ localSamples }),
        rucio: options.rucio,
        concurrency: options.workers,
        logFor: () => log,
        now,
        onOutcome: (event) => stats.outcome(event),
        onError: (error) => log.diagnostic('warn', 'upload worker error', { error: errorMessage(error) }),
      });
      worker = localWorker;
      // After a normal end the drain has already waited for the uploads in flight. After a Ctrl-C
      // they are not waited for: a chunk without an outcome is taken up again by --resume.
      cleanup.push('closing the upload workers', () => localWorker.close(options.signal.aborted));
    }

    const source = fresh?.source ?? (await openSource(plan.source as SourceSpec, { runId: plan.runId, gpsStart: plan.gpsStart, duration: plan.duration }));
    if (fresh === undefined) cleanup.push('closing the source', () => source.close());
    const replay = describeReplay(source, plan);
    options.output.info(replayLine(replay));
    // Pay the first-time costs (connection, code compilation, the first read; the workers' job
    // validation, HDF5 encoder and checksums, the storage connection and a PUT, see warmUpUploads)
    // before the schedule is fixed, so that the first chunks are neither late nor slower than the rest.
    await queue.waitUntilReady();
    const firstChunk = source.chunk(0);
    const [storageWarm, queueWarm] = await Promise.all([
      options.workers > 0 && warmUpUploads(options.rucio, { scope: plan.scope, dataset: plan.dataset, rse: plan.rse, tag: plan.tag, chunk: firstChunk }),
      warmUpBullmq(redisUrl, { work: options.workers > 0, rounds: bullmqWarmUpRounds, concurrency: Math.max(1, options.workers) }),
      RunState.loadScripts(redis),
    ]);
    const warmAt = now();
    let waitedMs = 0;
    if (resumed === undefined && options.startGate !== undefined) {
      await options.startGate();
      waitedMs = now() - warmAt;
      log.diagnostic('info', 'told to start pacing', { waited_ms: Math.round(waitedMs) });
    }
    const { state, settings, next } = resumed ?? (await createRun(redis, fixSchedule(plan, options.alignGps, now)));
    log.write(runStartedEvent(settings, options.workers, options.resume === undefined ? undefined : next, replay, rucioVersion, chunkShapeSetting(firstChunk)));
    log.write({
      event: 'ready',
      run: settings.runId,
      side: 'upload',
      scope: settings.scope,
      dataset: settings.dataset,
      // Set-up and warm-up, not the wait for the download (rehearse) before the schedule was fixed.
      settings: { startup_ms: Math.round(warmAt - started), waited_ms: Math.round(waitedMs), storage_warm: storageWarm, queue_warm: queueWarm },
    } satisfies RunEvent);
    const countsBefore = await state.counts();
    const doneBefore = (countsBefore.uploaded ?? 0) + (countsBefore.failed ?? 0);
    const producer = new Producer({ queue, state, source, settings, log, stats, attempts: options.attempts, now, doneBefore, ...definedProps({ localSamples }) });
    // Before the first due time (fixSchedule leaves room for it): the first chunk is queued like the next ones.
    producer.warmUp(next);
    let finished = false;
    const writeRunFinished = (counts: Record<string, number>, interrupted: boolean): void => {
      if (finished) return;
      finished = true;
      log.write({
        event: 'run_finished',
        run: settings.runId,
        side: 'upload',
        scope: settings.scope,
        dataset: settings.dataset,
        ...definedProps({ scheduled: settings.count }),
        counts,
        ...(interrupted ? { reason: 'interrupted' } : {}),
      } satisfies RunEvent);
    };
    // A stop that could not finish its bookkeeping (Redis gone, a second Ctrl-C) still ends the log
    // with run_finished, with the one count this process knows without Redis.
    const knownCounts = (): Record<string, number> => ({ enqueued: producer.enqueued, dq_flagged: producer.dqFlagged });
    cleanup.push('ending the upload log', () => {
      if (options.signal.aborted) writeRunFinished(knownCounts(), true);
    });
    cleanup.push('forgetting the forced-exit hook', onForcedExit(() => {
      log.diagnostic('warn', 'exit forced by a second signal: chunks in flight get their outcome on --resume');
      writeRunFinished(knownCounts(), true);
      log.flush();
    }));
    const pump = await EventPump.start(state, log);
    cleanup.push('stopping the event pump', () => pump.stop());
    await state.setStatus('running');

    const progress = startProgress(options.output, stats, settings, state, (counts) => producer.inQueue(counts), doneBefore + (countsBefore.skipped ?? 0));
    cleanup.push('stopping the progress line', () => progress.stop());

    const maxOutstanding = Math.max(1, options.workers) * outstandingPerWorker;
    const nextUnsent = await runPacer({
      schedule: { t0: settings.t0, intervalMs: settings.intervalMs },
      from: next,
      ...definedProps({ until: settings.count }),
      latePolicy: settings.latePolicy,
      signal: options.signal,
      now,
      emit: async (tick) => {
        await producer.enqueue(tick);
        if (settings.intervalMs === 0) await producer.waitForRoom(maxOutstanding, options.signal);
      },
      batch: {
        size: Math.min(unpacedBatch, maxOutstanding),
        emit: async (ticks) => {
          await producer.enqueueBatch(ticks);
          await producer.waitForRoom(maxOutstanding, options.signal);
        },
      },
      skipLate: (tick) => producer.skip(tick, 'late', 'emitted too late for its slot (--late skip)'),
    });
    await state.setNext(nextUnsent);

    const interrupted = options.signal.aborted;
    if (interrupted) {
      // Stopped by the user (DESIGN §5: a Ctrl-C returns within 5 s): this process's workers take no
      // new chunk, the uploads in flight get a short moment to land; chunks still waiting in the
      // queue or for a retry keep their place there for --resume.
      const drainTimeout = Math.min(options.drainTimeoutMs, interruptedDrainMs);
      options.output.info(`stopping: waiting up to ${formatDuration(drainTimeout)} for uploads in flight`);
      await worker?.pause(true);
      await untilNoneActive(queue, drainTimeout, now);
    } else {
      await producer.drain(nextUnsent, options.drainTimeoutMs);
      await producer.reconcile(nextUnsent, options.drainTimeoutMs);
    }
    await pump.flush();

    if (options.closeDataset && !interrupted) {
      await options.rucio.closeDataset(settings.scope, settings.dataset);
    }
    const counts = await state.counts();
    // Every chunk has its outcome by now; a resumed run enqueues unfinished chunks with fresh samples.
    if (!interrupted) await state.dropSamples();
    await state.setStatus(interrupted ? 'interrupted' : 'finished');
    writeRunFinished({ enqueued: producer.enqueued, dq_flagged: producer.dqFlagged, ...counts }, interrupted);
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
      // As the report counts them: chunks whose outcome line says late (recorded with the outcome, in Redis).
      late: counts.late ?? 0,
      dqFlagged: producer.dqFlagged,
      interrupted,
      logFile,
      wallMs: now() - started,
      pacingErrorMs: stats.pacing.summary(),
      uploadLatencyMs: stats.upload.summary(),
      attachRequests: attachRequests() - attachRequestsBefore,
    };
  } finally {
    await cleanup.run();
  }
}

/** Waits until no job of the queue is being worked on (by any worker of the run), or the timeout passed. */
async function untilNoneActive(queue: Queue, timeoutMs: number, now: () => number): Promise<void> {
  const deadline = now() + timeoutMs;
  while (now() < deadline && (await queue.getActiveCount()) > 0) await sleep(25);
}

/** Records a new run, with its schedule fixed, in Redis: nothing of it is enqueued yet. */
async function createRun(redis: Redis, settings: RunSettings): Promise<{ state: RunState; settings: RunSettings; next: number }> {
  return { state: await RunState.create(redis, settings), settings, next: 0 };
}

/** The run_started record; `resumedAt` is where a resumed run picks up (absent for a new run). */
function runStartedEvent(
  settings: RunSettings,
  workers: number,
  resumedAt: number | undefined,
  replay: ReplayDescription,
  rucioVersion: string | undefined,
  shape: ChunkShapeAnnouncement | undefined,
): RunEvent {
  return {
    event: 'run_started',
    run: settings.runId,
    side: 'upload',
    scope: settings.scope,
    dataset: settings.dataset,
    period_ms: settings.periodMs,
    t0: settings.t0,
    ...definedProps({ scheduled: settings.count }),
    settings: {
      source: settings.source,
      rse: settings.rse,
      rate_factor: settings.rateFactor,
      interval_ms: settings.intervalMs,
      // Chunk 0's GPS time: with t0 and interval_ms, where each chunk of the stream is due (rehearse tells its download).
      gps_start: settings.gpsStart,
      // What every chunk of the run has in common: rehearse tells its download, which prepares its decoder before chunk 0.
      chunk_shape: shape,
      late_policy: settings.latePolicy,
      gap_policy: settings.gapPolicy,
      ...replaySettings(replay),
      workers,
      resumed_at: resumedAt,
      // For the report's header: which catalog and which wavefier wrote this log.
      rucio_host: settings.rucioHost === undefined ? undefined : redactUrl(settings.rucioHost),
      rucio_version: rucioVersion,
      wavefier_version: packageVersion(),
    },
  };
}

/** The shape of the run's chunks (those of its first), as run_started says it; undefined for a chunk that cannot be encoded. */
function chunkShapeSetting(chunk: Chunk): ChunkShapeAnnouncement | undefined {
  try {
    const shape = chunkShape(chunk);
    return {
      run_id: shape.runId,
      duration_s: shape.duration,
      sample_rate_hz: shape.sampleRate,
      detector: shape.detector,
      observatory: shape.observatory,
      source_kind: shape.sourceKind,
      ...definedProps({ source_file: shape.sourceFile }),
      has_dq: shape.hasDq,
    };
  } catch {
    return undefined;
  }
}
