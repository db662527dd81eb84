import { join, resolve } from 'node:path';
import { ZodError, prettifyError } from 'zod';
import { CleanupStack } from '../common/cleanup.js';
import { definedProps } from '../common/defined.js';
import { ExitCode, InterruptedError, RuntimeFailure, UsageError, errorMessage } from '../common/errors.js';
import { formatDuration } from '../common/duration.js';
import type { Output } from '../common/output.js';
import { newRunId } from '../common/run-id.js';
import { FaultController } from '../lake/index.js';
import { buildReport, reportExitCode, reportNotes, writeHtml, writePlots, type Report } from '../report/index.js';
import type { DqPolicy, GapPolicy } from '../strain/index.js';
import { describeSourceFlags } from '../uploader/replay-description.js';
import { replayLine, syntheticDefaults } from '../uploader/replay.js';
import { startWavefier, type ChildResult, type RunningChild } from './child.js';
import type { LakeProcess } from './lake-process.js';
import { startRedis, startStack } from './stack.js';

export interface RehearseOptions {
  count: number;
  periodMs: number;
  rateFactor: number;
  asFastAsPossible: boolean;
  source: string;
  order: 'sequential' | 'random';
  seed: number;
  onGap: GapPolicy;
  onDq: DqPolicy;
  resample?: number;
  uploadWorkers: number;
  downloadWorkers: number;
  pollMode: 'phase-locked' | 'incremental' | 'full';
  pollIntervalMs?: number;
  keep: 'all' | 'none';
  logDir: string;
  /** Use the Rucio deployment of rucio.cfg / RUCIO_* instead of the embedded lake. */
  external: boolean;
  rse?: string;
  scope: string;
  redisUrl?: string;
  lakeDir?: string;
  deadlineMs?: number;
  plots: boolean;
  uploadArgs: string[];
  downloadArgs: string[];
  /** WebDAV RSEs the embedded lake describes (`lake serve --davs-rse`); the first is the default RSE. */
  davsRses?: string[];
  /** Fault injection rules for the embedded lake, active from the start (see `wavefier lake serve`). */
  faults?: unknown;
  signal: AbortSignal;
  output: Output;
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
  wallMs: number;
}

/** An unpaced run's deadline allowance per chunk: a slow machine's 40 chunks/s. */
const unpacedAllowanceMsPerChunk = 25;

/**
 * The one-command rehearsal: an embedded lake in a process of its own (unless a real one is configured), a private Redis
 * (unless one is given), `wavefier upload` and `wavefier download` as two processes as they would
 * run at two sites, then the report of their logs.
 */
export async function rehearse(options: RehearseOptions): Promise<RehearseResult> {
  const started = Date.now();
  const { output } = options;
  const runId = newRunId(started);
  const logDir = resolve(options.logDir);
  const runDir = join(logDir, runId);
  const dataset = `wavefier-${runId}`;
  const cleanup = new CleanupStack({ onError: (message) => output.warn(`cleanup: ${message}`) });
  try {
    if (options.faults !== undefined) {
      if (options.external) throw new UsageError('--faults works only with the embedded lake, not with --external');
      // Checked here, before anything starts, with the lake's own rules.
      try {
        new FaultController().set(options.faults as Parameters<FaultController['set']>[0]);
      } catch (error) {
        throw new UsageError(`invalid --faults: ${error instanceof ZodError ? prettifyError(error).replace(/\n/g, '; ') : errorMessage(error)}`);
      }
    }
    let lake: LakeProcess | undefined;
    let davsRse: string | undefined;
    let env: NodeJS.ProcessEnv = { ...process.env };
    let redisUrl: string;
    if (options.external) {
      ({ url: redisUrl } = await startRedis(definedProps({ url: options.redisUrl }), cleanup));
    } else {
      const stack = await startStack({
        lakeDir: options.lakeDir ?? join(runDir, 'lake'),
        ...definedProps({ redisUrl: options.redisUrl }),
        onLakeLine: (line) => output.info(`${'lake'.padEnd(8)} | ${line}`),
        lakeArgs: (options.davsRses ?? []).flatMap((rse) => ['--davs-rse', rse]),
        cleanup,
        env,
      });
      ({ lake, env, redisUrl } = stack);
      if (options.faults !== undefined) {
        await lake.setFaults(options.faults);
        output.warn(`fault injection active in the embedded lake: ${JSON.stringify(options.faults)}`);
      }
      const webdav = lake.settings.rses.filter((r) => r.scheme === 'davs').map((r) => `, WebDAV RSE ${r.name} at ${r.pfnPrefix}`);
      output.info(`embedded lake: catalog ${lake.settings.rucioHost}, storage ${lake.settings.s3.endpoint}${webdav.join('')} (state in ${lake.settings.dir})`);
      davsRse = lake.settings.rses.find((r) => r.scheme === 'davs')?.name;
    }
    const rse = options.rse ?? davsRse ?? lake?.settings.defaultRse;
    if (rse === undefined) throw new RuntimeFailure('--rse is required with --external: name the RSE to upload to');
    const replay = await describeSourceFlags(
      { source: options.source, order: options.order, seed: options.seed, ...syntheticDefaults, resample: options.resample },
      { periodMs: options.periodMs, gapPolicy: options.onGap, dqPolicy: options.onDq },
    );

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

    const common = ['--redis', redisUrl, '--log-dir', logDir, '--scope', options.scope];
    const download = startWavefier(
      'download',
      [
        'download',
        ...common,
        '--dataset', dataset,
        '--run-name', runId,
        '--workers', String(options.downloadWorkers),
        '--poll', options.pollMode,
        ...(options.pollIntervalMs === undefined ? [] : ['--poll-interval', `${options.pollIntervalMs}ms`]),
        '--keep', options.keep,
        ...(options.keep === 'all' ? ['--dest', join(runDir, 'downloads')] : []),
        '--until-closed',
        ...options.downloadArgs,
      ],
      env,
      (label, line) => output.info(`${label.padEnd(8)} | ${line}`),
    );
    const upload = startWavefier(
      'upload',
      [
        'upload',
        ...common,
        '--run-id', runId,
        '--dataset', dataset,
        '--rse', rse,
        '--source', options.source,
        '--order', options.order,
        '--seed', String(options.seed),
        '--on-gap', options.onGap,
        '--on-dq', options.onDq,
        ...(options.resample === undefined ? [] : ['--resample', String(options.resample)]),
        '--count', String(options.count),
        '--period', `${options.periodMs}ms`,
        ...(options.asFastAsPossible ? ['--as-fast-as-possible'] : ['--rate-factor', String(options.rateFactor)]),
        '--workers', String(options.uploadWorkers),
        '--close-dataset',
        ...options.uploadArgs,
      ],
      env,
      (label, line) => output.info(`${label.padEnd(8)} | ${line}`),
    );
    const children = [upload, download];
    let stopRequested = false;
    const stopAll = (reason: string): void => {
      stopRequested = true;
      output.info(`stopping upload and download: ${reason}`);
      for (const child of children) child.stop(15_000);
    };
    const deadline = setTimeout(() => stopAll(`deadline of ${formatDuration(deadlineMs)} passed`), deadlineMs);
    const onAbort = (): void => stopAll('interrupted');
    options.signal.addEventListener('abort', onAbort, { once: true });
    const uploadResult = await upload.done;
    // The downloader stops by itself once the closed dataset is fully verified; if the upload failed
    // to close it, give the downloader a bounded time to finish what is there.
    if (uploadResult.code !== ExitCode.ok && uploadResult.code !== ExitCode.integrity) {
      setTimeout(() => stopAll(`the upload exited with ${describeExit(uploadResult)}`), 30_000).unref();
    }
    const downloadResult = await download.done;
    clearTimeout(deadline);
    options.signal.removeEventListener('abort', onAbort);
    warnOnAbnormalExit(output, 'upload', uploadResult, stopRequested);
    warnOnAbnormalExit(output, 'download', downloadResult, stopRequested);

    const report = await buildReport([runDir], { runId });
    for (const note of reportNotes(report)) output.warn(note);
    let plotsDir: string | undefined;
    let htmlFile: string | undefined;
    if (options.plots) {
      plotsDir = join(runDir, 'report');
      try {
        const plots = await writePlots(report, plotsDir);
        for (const warning of plots.warnings) output.warn(warning);
        htmlFile = await writeHtml(report, plotsDir, plots.plots);
      } catch (error) {
        output.warn(`could not draw the plots: ${errorMessage(error)}`);
      }
    }
    let exitCode: number = reportExitCode(report);
    // Stopped by the user: the shell's 128 + signal, unless something produced was lost (that stays 3).
    if (options.signal.aborted && exitCode !== ExitCode.integrity) exitCode = options.signal.reason instanceof InterruptedError ? options.signal.reason.exitCode : ExitCode.sigint;
    return {
      run: runId,
      runDir,
      dataset,
      report,
      exitCode,
      upload: uploadResult,
      download: downloadResult,
      ...definedProps({ plotsDir, htmlFile }),
      wallMs: Date.now() - started,
    };
  } finally {
    await cleanup.run();
  }
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
