import { join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { CleanupStack } from '../common/cleanup.js';
import { definedProps } from '../common/defined.js';
import { formatDuration } from '../common/duration.js';
import { UsageError, errorMessage } from '../common/errors.js';
import { openEventLog, type EventLog } from '../common/event-log.js';
import { onForcedExit } from '../common/shutdown.js';
import { downloadLogFile, type RunEvent } from '../common/log-records.js';
import { redactUrl } from '../common/redact.js';
import { parseStreamSchedule, type ChunkShapeAnnouncement, type StreamSchedule } from '../common/stream-schedule.js';
import { confinedPath } from '../common/safe-path.js';
import { packageVersion } from '../common/version.js';
import { Coordinator } from './coordinator.js';
import { DestinationWatch } from './destination-watch.js';
import { greetCatalog } from './first-contact.js';
import type { DownloadRunOptions } from './download-run-options.js';
import { downloadSummary, runFinishedCounts, type DownloadSummary } from './download-summary.js';
import { localRelativePath } from './download-job.js';
import { downloadLogFolder, verifiedNamesFromLog } from './download-state.js';
import { ignoresCase, LocalPaths } from './local-paths.js';
import { OutcomeLog } from './outcome-log.js';
import { runPollLoop } from './poll-loop.js';
import { PhaseLockedSchedule } from './phase-locked-schedule.js';
import { announcedStream, IntervalSchedule, type PollSchedule } from './poll-schedule.js';
import { DatasetPoller } from './poller.js';
import { DownloadStats, progressLine, startProgress } from './run-progress.js';
import { CatalogContact, ClosedDatasetProbe, defaultGiveUpAfterMs } from './stop-rules.js';
import { checkDownloadRequest } from './preflight.js';
import type { ChunkExecutor } from './chunk-executor.js';
import { inProcessVerification, startInProcessExecutor } from './in-process-run.js';
import { connectQueueRedis, queueModules, startQueueExecutor } from './queue-executor.js';

/** Calls `announce` once, when both the first poll was answered and the workers are connected. */
class Readiness {
  private readonly done = new Set<'polled' | 'workers'>();
  private announced = false;

  constructor(private readonly announce: () => void) {}

  set(what: 'polled' | 'workers'): void {
    this.done.add(what);
    if (this.announced || this.done.size < 2) return;
    this.announced = true;
    this.announce();
  }
}

/**
 * Prepares the executor's decoder for the announced shape of the stream's chunks, once the callbacks
 * already due (the polls planned from the schedule) have run.
 */
async function prepareForShape(executor: ChunkExecutor, shape: ChunkShapeAnnouncement, log: EventLog, running: () => boolean): Promise<void> {
  await setImmediate();
  if (!running()) return;
  const by = await executor.expectChunkShape?.(shape);
  if (running()) log.diagnostic('info', 'chunk shape announced', { prepared: by !== undefined, ...definedProps({ by }), ...shape });
}

/**
 * The consumer side of a rehearsal: polls the dataset for new chunks, hands each to a pool of worker
 * processes that fetch and verify it, logs one line per outcome, and stops on the first stop condition.
 * Here: set-up, the order of the phases and the summary; each phase lives in its own file.
 */
export async function runDownload(options: DownloadRunOptions): Promise<DownloadSummary> {
  try {
    return await download(options);
  } finally {
    // What an early start began and the run did not take over (it stopped before): stopped too. Idempotent.
    await options.early?.stop();
  }
}

async function download(options: DownloadRunOptions): Promise<DownloadSummary> {
  const now = options.now ?? Date.now;
  const started = now();
  await checkDownloadRequest(options);
  const giveUpAfterMs = options.giveUpAfterMs ?? defaultGiveUpAfterMs;
  if (!(giveUpAfterMs > 0)) throw new UsageError(`--give-up-after must be positive, got ${giveUpAfterMs} ms`);
  const runName = downloadLogFolder(options.dataset, options.runName);
  const logFile = join(confinedPath(options.logDir, runName, options.runName === undefined ? 'the dataset name' : '--run-name'), downloadLogFile);
  const alreadyVerified = await verifiedNamesFromLog(logFile, options.scope, options.dataset);
  const poller = new DatasetPoller(
    {
      client: options.rucio,
      scope: options.scope,
      dataset: options.dataset,
      mode: options.pollMode === 'full' ? 'full' : 'incremental',
      ...definedProps({ rseExpression: options.fromRse, catalogResolutionMs: options.catalogResolutionMs }),
      reconcileEveryMs: options.reconcileEveryMs,
      overlapMs: 2000,
      catalogClock: options.rucio.catalogClock,
      now,
    },
    alreadyVerified,
  );
  // The first poll goes out now, with the first questions to the catalog: it answers while the
  // credentials are checked and the queue and its answer stream are set up (the poll loop's first
  // round takes the answer; a failure, rejected credentials included, is the loop's to handle, or
  // the check's just below).
  const firstPoll = { startedAt: now(), result: poller.poll() };
  firstPoll.result.catch(() => undefined);
  const inProcess = inProcessVerification(options);
  // The queue's modules (BullMQ, ioredis: a few hundred milliseconds of loading) load while the
  // catalog works on the first poll and the first questions, which went out before them.
  const modules = inProcess ? undefined : queueModules();
  modules?.catch(() => undefined);
  const { failure: firstFailure, rucioVersion } = await greetCatalog(options.rucio, { credentialsAccepted: options.datasetAtStart !== undefined });
  const cleanup = new CleanupStack({ onError: (message) => options.output.warn(message) });
  try {
    // Before the log: a run whose Redis cannot be reached writes no log.
    const connected = modules === undefined ? undefined : await connectQueueRedis(await modules, options, cleanup);

    const log = openEventLog(logFile);
    cleanup.push('closing the download log', () => log.close());
    const destination = new DestinationWatch(options.keep === 'all' ? options.dest : undefined, log);
    const contact = new CatalogContact(options.rucio.config.rucioHost, giveUpAfterMs, options.output, log);
    if (firstFailure !== undefined) contact.failed(firstFailure, started);
    log.write({
      event: 'run_started',
      run: runName,
      side: 'download',
      scope: options.scope,
      dataset: options.dataset,
      settings: {
        poll_mode: options.pollMode,
        poll_interval_ms: options.pollIntervalMs,
        workers: options.workers,
        verify: inProcess ? 'in-process' : 'worker processes',
        workers_choice: options.workersChoice,
        from_rse: options.fromRse,
        keep: options.keep,
        already_verified: alreadyVerified.size,
        // For the report's header: which catalog and which wavefier wrote this log.
        rucio_host: redactUrl(options.rucio.config.rucioHost),
        rucio_version: rucioVersion,
        wavefier_version: packageVersion(),
      },
    } satisfies RunEvent);

    const stats = new DownloadStats(now());
    const jobs = {
      run: runName,
      scope: options.scope,
      dataset: options.dataset,
      subdir: options.subdir,
      keep: options.keep,
      ...definedProps({ dest: options.dest }),
      attempts: options.attempts,
    };
    const schedule: PollSchedule =
      options.pollMode === 'phase-locked'
        ? new PhaseLockedSchedule({ intervalMs: options.pollIntervalMs, onDecision: (decision, fields) => log.diagnostic('debug', decision, fields) })
        : new IntervalSchedule(options.pollIntervalMs);
    // Set once the coordinator exists; until then nothing is in flight.
    let inFlightNow = (): number => 0;
    let finished = false;
    const writeRunFinished = (reason: string): void => {
      if (finished) return;
      finished = true;
      log.write({
        event: 'run_finished',
        run: runName,
        side: 'download',
        scope: options.scope,
        dataset: options.dataset,
        counts: runFinishedCounts(stats, inFlightNow(), schedule.counters),
        reason,
      } satisfies RunEvent);
    };
    // Run after the executor has stopped delivering outcomes (no outcome comes after run_finished),
    // and before the queue is removed. Stopped by a signal, the log ends with run_finished even when
    // the stop itself failed (Redis gone) or the user forced the exit with a second signal.
    const pushLogEnd = (): void => {
      cleanup.push('ending the download log', () => {
        if (options.signal.aborted) writeRunFinished('interrupted');
        // Stopped by its destination: the report counts the run as ended early, like one that crashed.
        else if (destination.problem !== undefined) writeRunFinished('failed');
      });
      cleanup.push('forgetting the forced-exit hook', onForcedExit(() => {
        log.diagnostic('warn', 'exit forced by a second signal: chunks in flight are found again by the next download');
        writeRunFinished('interrupted');
        log.flush();
      }));
    };

    const executor: ChunkExecutor =
      connected === undefined
        ? startInProcessExecutor({ rucio: options.rucio, jobs, concurrency: options.workerConcurrency, log, cleanup, pushLogEnd, batch: options.datasetAtStart?.open === false })
        : await startQueueExecutor({
            connected,
            jobs,
            rucioHost: options.rucio.config.rucioHost,
            workers: options.workers,
            workerConcurrency: options.workerConcurrency,
            logDir: options.logDir,
            workerRucioSettings: options.workerRucioSettings,
            workerEnv: options.workerEnv,
            early: options.early,
            interrupted: () => options.signal.aborted,
            log,
            output: options.output,
            cleanup,
            pushLogEnd,
            now,
          });
    const writes = options.keep === 'all' && options.dest !== undefined;
    const paths = new LocalPaths(writes && options.dest !== undefined && ignoresCase(options.dest));
    // Files an earlier run of this log wrote keep their names and paths.
    for (const name of alreadyVerified) paths.claim({ scope: options.scope, name, relativePath: writes ? localRelativePath(jobs, name) : undefined }, '');
    const closedProbe = options.untilClosed ? new ClosedDatasetProbe(options.rucio, options.scope, options.dataset, options.datasetAtStart) : undefined;
    // Fired when the run may be able to stop: the poll loop's pause ends early (see onSettled).
    let woken = new AbortController();
    const coordinator = new Coordinator({
      executor,
      jobs,
      corruptionRetries: options.corruptionRetries,
      outcomes: new OutcomeLog(log, options.output),
      stats,
      paths,
      // A chunk's own due time tells the schedule where the stream's beat is.
      onVerified: (answer) => schedule.verified?.(answer.name, answer.tAvail),
      // The last chunk in flight of a closed dataset (or the --until-count-th): the run can stop now, not at the next poll.
      onSettled: () => {
        const complete = closedProbe?.closed === true || (options.untilCount !== undefined && stats.verified + alreadyVerified.size >= options.untilCount);
        if (complete && coordinator.pending.size === 0) woken.abort();
      },
      onFailed: () => destination.check(),
      now,
    });
    inFlightNow = () => coordinator.pending.size;

    const runSignal = AbortSignal.any([options.signal, destination.signal]);
    // The producer's schedule, once told (rehearse relays its upload's as soon as t0 is fixed): a
    // pause in progress ends, so that the next polls are planned from it (one under way is, anyway).
    // The shape of its chunks, when told too, prepares the decoder before chunk 0 is due (100 ms later
    // in a rehearsal): once the polls are planned, since building the template takes ~10 ms of CPU.
    void options.announcedSchedule?.then(async (line) => {
      if (line === undefined || finished) return;
      let told: StreamSchedule;
      try {
        told = parseStreamSchedule(line);
      } catch (error) {
        log.diagnostic('warn', 'stream schedule ignored', { error: errorMessage(error) });
        options.output.warn(`${errorMessage(error)}: polling without it`);
        return;
      }
      if (schedule.expect !== undefined) {
        log.diagnostic('info', 'stream schedule announced', told);
        schedule.expect(announcedStream(told), now());
        const pausing = woken;
        woken = new AbortController();
        pausing.abort();
      }
      if (told.chunk_shape !== undefined) await prepareForShape(executor, told.chunk_shape, log, () => !finished);
    });

    const readiness = new Readiness(() => {
      // Workers that connect only after a Ctrl-C, or after the last chunk (a closed dataset verified
      // while they warmed up), must not log `ready` after `run_finished`.
      if (options.signal.aborted || finished) return;
      schedule.ready?.(now());
      const note = executor.readyNote();
      log.write({
        event: 'ready',
        run: runName,
        side: 'download',
        scope: options.scope,
        dataset: options.dataset,
        settings: { ...note.settings, startup_ms: Math.round(now() - started) },
      } satisfies RunEvent);
      const choice = options.workersChoice === undefined ? '' : ` (${options.workersChoice})`;
      options.output.info(`download ready after ${formatDuration(now() - started)}: first poll answered, ${note.text}${choice}`);
    });
    void executor.whenReady(runSignal).then(() => readiness.set('workers'));

    const progress = startProgress(options.output, options.dataset, () => progressLine(stats, coordinator.pending.size));
    cleanup.push('stopping the progress line', () => progress.stop());

    const stopReason = await runPollLoop({
      scope: options.scope,
      dataset: options.dataset,
      poller,
      coordinator,
      executor,
      ...(closedProbe === undefined ? {} : { closedProbe }),
      firstPoll,
      wake: () => {
        const current = woken.signal;
        if (current.aborted) woken = new AbortController();
        return current;
      },
      schedule,
      rules: {
        untilClosed: options.untilClosed,
        ...definedProps({ untilCount: options.untilCount, untilIdleMs: options.untilIdleMs, durationMs: options.durationMs }),
      },
      stats,
      onPolled: () => readiness.set('polled'),
      contact,
      alreadyVerified: alreadyVerified.size,
      startedAt: started,
      log,
      output: options.output,
      signal: runSignal,
      now,
    });
    if (destination.problem !== undefined) throw destination.problem;
    if (options.signal.aborted) {
      await executor.stopTaking();
    } else {
      await coordinator.drain(30_000);
    }
    progress.stop();
    const summary = downloadSummary(stats, {
      scope: options.scope,
      dataset: options.dataset,
      alreadyVerified: alreadyVerified.size,
      inFlight: coordinator.pending.size,
      pollCounters: schedule.counters,
      stopReason,
      verifiedBy: executor.verifiedBy() + (options.workersChoice === undefined ? '' : ` (${options.workersChoice})`),
      logFile,
      wallMs: now() - started,
    });
    writeRunFinished(stopReason);
    return summary;
  } finally {
    await cleanup.run();
  }
}
