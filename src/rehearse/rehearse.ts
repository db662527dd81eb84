import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ZodError, prettifyError } from 'zod';
import { CleanupStack } from '../common/cleanup.js';
import { definedProps } from '../common/defined.js';
import { downloadLogFile, uploadLogFile } from '../common/log-records.js';
import { ExitCode, InterruptedError, RuntimeFailure, UsageError, errorMessage } from '../common/errors.js';
import { formatDuration } from '../common/duration.js';
import type { Output } from '../common/output.js';
import { newRunId } from '../common/run-id.js';
import { streamScheduleLine } from '../common/stream-schedule.js';
import { FaultController } from '../lake/index.js';
import type { PrivateRedis } from '../redis/index.js';
import { buildReport, reportExitCode, reportNotes, writeHtml, writePlots, type LatencyObjective, type Report } from '../report/index.js';
import { describeSourceFlags } from '../uploader/replay-description.js';
import { replayLine, syntheticDefaults } from '../uploader/replay.js';
import { childArgs, type ChildRequest } from './child-args.js';
import { startWavefier, type ChildResult, type RunningChild } from './child.js';
import type { LakeProcess } from './lake-process.js';
import { startLiveView } from './live-view.js';
import { startRedis, startStack } from './stack.js';
import { watchStdoutReader } from '../common/stdout-reader.js';
import { uploadSchedule, whenLogSaysReady, whenLogShows } from './warm-start.js';

export interface RehearseOptions extends ChildRequest {
  /** The run id (default: a new one); the CLI picks it to check the children's flags before the start. */
  runId?: string;
  logDir: string;
  /** Use the Rucio deployment of rucio.cfg / RUCIO_* instead of the embedded lake. */
  external: boolean;
  rse?: string;
  redisUrl?: string;
  lakeDir?: string;
  deadlineMs?: number;
  /** The live view's progress line (no terminal) or event (--json) this often; default a minute, 10 s with --json. */
  progressIntervalMs?: number;
  plots: boolean;
  /** Latency objectives (--slo) the report judges: a missed one is exit 6. */
  objectives?: readonly LatencyObjective[];
  /** WebDAV RSEs the embedded lake describes (`lake serve --davs-rse`); the first is the default RSE. */
  davsRses?: string[];
  /** Fault injection rules for the embedded lake, active from the start (see `wavefier lake serve`). */
  faults?: unknown;
  signal: AbortSignal;
  output: Output;
  /** Where the result goes (default process.stdout): when its reader goes away, the rehearsal stops as if interrupted. */
  stdout?: NodeJS.WritableStream;
}

export interface RehearseResult {
  run: string;
  runDir: string;
  dataset: string;
  report: Report;
  exitCode: number;
  upload: ChildResult;
  download: ChildResult;
  plotsDir?: string;
  htmlFile?: string;
  /** The plot files and report.html written. */
  plotFiles?: string[];
  wallMs: number;
  /** Stopped because the reader of its output went away (`| head -1`, a closed terminal's pipe). */
  readerGone: boolean;
}

/** An unpaced run's deadline allowance per chunk: a slow machine's 40 chunks/s. */
const unpacedAllowanceMsPerChunk = 25;

/**
 * How long upload or download may take to stop once asked (their own budgets are about 2.5 s) before
 * they are forced: a Ctrl-C of the rehearsal returns within DESIGN §5's 5 s, report included.
 */
const childForceAfterMs = 3000;

/**
 * The one-command rehearsal: an embedded lake in a process of its own (unless a real one is configured), a private Redis
 * (unless one is given), `wavefier upload` and `wavefier download` as two processes as they would
 * run at two sites, then the report of their logs.
 */
export async function rehearse(options: RehearseOptions): Promise<RehearseResult> {
  // Its stdout's reader gone, a rehearsal stops its children in order as after a Ctrl-C: a crash on
  // EPIPE left them to stop by themselves, with the Redis and lake they needed killed under them.
  const readerGone = new AbortController();
  const stdout = options.stdout ?? process.stdout;
  const onReaderGone = (): void => {
    if (readerGone.signal.aborted) return;
    options.output.warn('the reader of the output went away: stopping the rehearsal');
    readerGone.abort(new InterruptedError('SIGPIPE'));
  };
  // Kept after the rehearsal: later writes to the broken pipe are dropped.
  stdout.on('error', onReaderGone);
  const watcher = stdout === process.stdout ? watchStdoutReader(onReaderGone) : { stop: () => undefined };
  try {
    return await rehearseUntil({ ...options, signal: AbortSignal.any([options.signal, readerGone.signal]) }, () => readerGone.signal.aborted);
  } finally {
    watcher.stop();
  }
}

async function rehearseUntil(options: RehearseOptions, readerWentAway: () => boolean): Promise<RehearseResult> {
  const started = Date.now();
  const { output } = options;
  // Usage problems of the rehearsal itself, before anything starts (the upload's and download's
  // flags were checked by the CLI with their own definitions).
  if (options.external && options.rse === undefined) throw new UsageError('--rse is required with --external: name the RSE to upload to');
  if (options.faults !== undefined) {
    if (options.external) throw new UsageError('--faults works only with the embedded lake, not with --external');
    try {
      new FaultController().set(options.faults as Parameters<FaultController['set']>[0]);
    } catch (error) {
      throw new UsageError(`invalid --faults: ${error instanceof ZodError ? prettifyError(error).replace(/\n/g, '; ') : errorMessage(error)}`);
    }
  }
  const runId = options.runId ?? newRunId(started);
  const logDir = resolve(options.logDir);
  const runDir = join(logDir, runId);
  const cleanup = new CleanupStack({ onError: (message) => output.warn(`cleanup: ${message}`) });
  // Interrupted while the lake or Redis starts: nothing was produced, nothing to report.
  const stopIfInterrupted = (): void => {
    if (!options.signal.aborted) return;
    output.info(`rehearsal ${runId} interrupted before upload and download started: nothing to report`);
    throw interruption(options.signal);
  };
  try {
    let lake: LakeProcess | undefined;
    let davsRse: string | undefined;
    let env: NodeJS.ProcessEnv = { ...process.env };
    let redisUrl: string;
    let privateRedis: PrivateRedis | undefined;
    // The lake and Redis go onto the cleanup stack first, so they are stopped last: upload and
    // download talk to them until they have exited.
    if (options.external) {
      ({ url: redisUrl, redis: privateRedis } = await startRedis(definedProps({ url: options.redisUrl }), cleanup));
    } else {
      const stack = await startStack({
        lakeDir: options.lakeDir ?? join(runDir, 'lake'),
        ...definedProps({ redisUrl: options.redisUrl }),
        onLakeLine: (line) => output.info(`${'lake'.padEnd(8)} | ${line}`),
        lakeArgs: (options.davsRses ?? []).flatMap((rse) => ['--davs-rse', rse]),
        cleanup,
        env,
        signal: options.signal,
      });
      ({ lake, env, redisUrl, redis: privateRedis } = stack);
      if (options.faults !== undefined) {
        await lake.setFaults(options.faults);
        output.warn(`fault injection active in the embedded lake: ${JSON.stringify(options.faults)}`);
      }
      const webdav = lake.settings.rses.filter((r) => r.scheme === 'davs').map((r) => `, WebDAV RSE ${r.name} at ${r.pfnPrefix}`);
      output.info(`embedded lake: catalog ${lake.settings.rucioHost}, storage ${lake.settings.s3.endpoint}${webdav.join('')} (state in ${lake.settings.dir})`);
      davsRse = lake.settings.rses.find((r) => r.scheme === 'davs')?.name;
    }
    const rse = options.rse ?? davsRse ?? lake?.settings.defaultRse;
    if (rse === undefined) throw new UsageError('--rse is required with --external: name the RSE to upload to');
    stopIfInterrupted();
    const replay = await describeSourceFlags(
      { source: options.source, order: options.order, seed: options.seed, ...syntheticDefaults, resample: options.resample },
      { periodMs: options.periodMs, gapPolicy: options.onGap, dqPolicy: options.onDq },
    );

    const { upload: uploadArgs, download: downloadArgs, dataset } = childArgs(options, { runId, logDir, redisUrl, rse });
    const intervalMs = options.asFastAsPossible ? 0 : options.periodMs / options.rateFactor;
    // Unpaced, a run takes as long as the machine needs: allow a slow one before giving up.
    const expectedMs = options.count * (intervalMs > 0 ? intervalMs : unpacedAllowanceMsPerChunk);
    const deadlineMs = options.deadlineMs ?? expectedMs + 120_000;
    output.info(
      `rehearsal ${runId}: ${options.count} chunks of ${formatDuration(options.periodMs)} from ${options.source}, ` +
        (options.asFastAsPossible ? 'as fast as possible' : `one every ${formatDuration(intervalMs)} (rate factor ${options.rateFactor})`) +
        `, into ${options.scope}:${dataset} on ${rse}; deadline ${formatDuration(deadlineMs)}`,
    );
    output.info(`  ${replayLine(replay)}`);

    const forward = (label: string, line: string): void => output.info(`${label.padEnd(8)} | ${line}`);
    const download = startWavefier('download', downloadArgs, env, forward);
    const upload = startWavefier('upload', uploadArgs, env, forward);
    const live = startLiveView({
      run: runId,
      files: { upload: join(runDir, uploadLogFile), download: join(runDir, downloadLogFile) },
      schedule: { scheduled: options.count, intervalMs },
      ...definedProps({ everyMs: options.progressIntervalMs }),
      output,
    });
    cleanup.push('stopping the live view', () => live.stop());
    // Should this process die (SIGKILL), both stop by themselves, and need Redis until they have.
    privateRedis?.stopAfter(upload.process.pid);
    privateRedis?.stopAfter(download.process.pid);
    // In the finally below, before the lake and Redis: a rehearsal that failed still stops its children first.
    cleanup.push('stopping upload and download', () => stopChildren('the rehearsal is ending'));
    let stopping: Promise<void> | undefined;
    // The producer first, then the consumer: the download may still verify what the upload's last
    // moments landed; the lake and Redis go last (cleanup), once both have exited.
    function stopChildren(reason: string): Promise<void> {
      stopping ??= (async () => {
        if (upload.process.exitCode === null || download.process.exitCode === null) output.info(`stopping upload, then download: ${reason}`);
        await upload.stop(childForceAfterMs);
        await download.stop(childForceAfterMs);
      })();
      return stopping;
    }
    const deadline = setTimeout(() => void stopChildren(`deadline of ${formatDuration(deadlineMs)} passed`), deadlineMs);
    const onAbort = (): void => void stopChildren('interrupted');
    options.signal.addEventListener('abort', onAbort, { once: true });
    await startPacingWhenDownloadReady(upload, download, { download: join(runDir, downloadLogFile), upload: join(runDir, uploadLogFile) }, options.signal, output);
    const uploadResult = await upload.done;
    // The downloader stops by itself once the closed dataset is fully verified; if the upload failed
    // to close it, give the downloader a bounded time to finish what is there.
    let uploadFailedTimer: NodeJS.Timeout | undefined;
    if (uploadResult.code !== ExitCode.ok && uploadResult.code !== ExitCode.integrity && stopping === undefined) {
      uploadFailedTimer = setTimeout(() => void stopChildren(`the upload exited with ${describeExit(uploadResult)}`), 30_000);
    }
    const downloadResult = await download.done;
    clearTimeout(deadline);
    clearTimeout(uploadFailedTimer);
    options.signal.removeEventListener('abort', onAbort);
    const stopRequested = stopping !== undefined;
    await live.stop();
    warnOnAbnormalExit(output, 'upload', uploadResult, stopRequested);
    warnOnAbnormalExit(output, 'download', downloadResult, stopRequested);

    let report: Report;
    try {
      report = await buildReport([runDir], { runId, ...definedProps({ objectives: options.objectives }) });
    } catch (error) {
      // Stopped before either side wrote its first line: an interruption, not a broken run.
      if (!options.signal.aborted) {
        // Neither side got as far as its first log line: the run failed, the rehearsal was not misused.
        if (!existsSync(join(runDir, 'upload.jsonl')) && !existsSync(join(runDir, 'download.jsonl'))) {
          throw new RuntimeFailure(`rehearsal ${runId}: neither upload nor download wrote a log (see their errors above)`, { cause: error });
        }
        throw error;
      }
      output.info(`rehearsal ${runId} interrupted before upload or download wrote a log: nothing to report (${errorMessage(error)})`);
      throw interruption(options.signal);
    }
    for (const note of reportNotes(report)) output.warn(note);
    let plotsDir: string | undefined;
    let htmlFile: string | undefined;
    let plotFiles: string[] | undefined;
    // Drawing takes seconds on a busy machine: a Ctrl-C is answered with the report now (DESIGN §5),
    // the plots can be drawn from the logs at any time.
    if (options.plots && options.signal.aborted) output.info(`interrupted: no plots drawn; \`wavefier report ${runDir}\` draws them`);
    if (options.plots && !options.signal.aborted) {
      plotsDir = join(runDir, 'report');
      try {
        const plots = await writePlots(report, plotsDir);
        for (const warning of plots.warnings) output.warn(warning);
        htmlFile = await writeHtml(report, plotsDir, plots.plots);
        plotFiles = [...plots.files, htmlFile];
      } catch (error) {
        output.warn(`could not draw the plots: ${errorMessage(error)}`);
      }
    }
    let exitCode: number = reportExitCode(report);
    // Stopped by the user: the shell's 128 + signal, unless something produced was lost (that stays 3).
    if (options.signal.aborted && exitCode !== ExitCode.integrity) exitCode = interruption(options.signal).exitCode;
    return {
      run: runId,
      runDir,
      dataset,
      report,
      exitCode,
      upload: uploadResult,
      download: downloadResult,
      ...definedProps({ plotsDir, htmlFile, plotFiles }),
      wallMs: Date.now() - started,
      readerGone: readerWentAway(),
    };
  } finally {
    await cleanup.run();
  }
}

/** How long the upload waits for its download to be ready before it starts pacing anyway. */
const downloadReadyTimeoutMs = 120_000;

/** How long the upload may take to fix its schedule once told to start, and how often its log is read for it (chunk 0 is due 20 ms after). */
const uploadScheduleTimeoutMs = 10_000;
const uploadScheduleReadEveryMs = 2;

/**
 * Tells the upload (`--start-when-told`) to fix its schedule once the download has said it is ready
 * (first poll answered, workers connected), so that chunk 0 does not pay for the download's start-up;
 * a download that exits first, or is not ready in time, does not hold the upload back. Then tells the
 * download (`--schedule-from-owner`) the schedule the upload fixed (its `run_started`: t0, interval,
 * chunk 0's GPS time), so that it polls for chunk 0 when it is due, not every 20 ms until it has seen
 * two chunks.
 */
async function startPacingWhenDownloadReady(upload: RunningChild, download: RunningChild, logs: { upload: string; download: string }, signal: AbortSignal, output: Output): Promise<void> {
  const readiness = await whenLogSaysReady(logs.download, { exited: download.done, signal, timeoutMs: downloadReadyTimeoutMs });
  if (readiness === 'aborted') return; // the stop closes the upload's pipe, which opens its gate too
  if (readiness === 'timeout') {
    output.warn(`the download was not ready after ${formatDuration(downloadReadyTimeoutMs)}: the upload starts pacing anyway, and the first chunks' latency includes the download's start-up`);
  }
  upload.process.stdin?.write('start\n');
  const fixed = await whenLogShows(logs.upload, (record) => (record.event === 'run_started' ? { schedule: uploadSchedule(record) } : undefined), {
    exited: upload.done,
    signal,
    timeoutMs: uploadScheduleTimeoutMs,
    everyMs: uploadScheduleReadEveryMs,
  });
  // Without it (an unpaced run, an upload that stopped first) the download learns the stream from its chunks.
  const schedule = fixed.found?.schedule;
  if (schedule !== undefined) download.process.stdin?.write(streamScheduleLine(schedule));
}

/** The InterruptedError a stop signal carries (SIGINT when it carries none). */
function interruption(signal: AbortSignal): InterruptedError {
  const reason: unknown = signal.reason;
  return reason instanceof InterruptedError ? reason : new InterruptedError('SIGINT');
}

function describeExit(result: ChildResult): string {
  return result.signal === null ? `code ${result.code ?? 'unknown'}` : `signal ${result.signal}`;
}

function warnOnAbnormalExit(output: Output, label: string, result: ChildResult, stopRequested: boolean): void {
  if (result.code === ExitCode.ok || result.code === ExitCode.integrity) return;
  // Asked to stop, it stopped: the expected exit of a graceful shutdown is not news.
  if (stopRequested && (result.code === ExitCode.sigint || result.code === ExitCode.sigterm)) return;
  output.warn(`${label} exited with ${describeExit(result)}; the report below says what reached the lake`);
}

export type { RunningChild };
