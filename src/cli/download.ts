import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import { definedProps } from '../common/defined.js';
import { IntegrityError, UsageError } from '../common/errors.js';
import { checkPathName, checkUserPath } from '../common/safe-path.js';
import { whenOwnerSendsLine } from '../common/shutdown.js';
import { formatDuration } from '../common/duration.js';
import type { DownloadPollMode, DownloadSummary } from '../downloader/index.js';
import type { EarlyStart } from '../downloader/early-start.js';
import type { RucioClient } from '../rucio/index.js';
import { datasetArgument, type DatasetDid } from './did.js';
import { duration, eitherName, nonNegativeInteger, positiveInteger } from './parse.js';
import { rucioClientFor, rucioConfigFromFlags, type RucioFlags } from './rucio-options.js';
import { contextFor, type Runtime } from './runtime.js';

interface DownloadFlags {
  scope: string;
  dataset?: string;
  dir?: string;
  /** The older name of --dir. */
  dest?: string;
  subdir: boolean;
  keep: 'all' | 'none';
  workers: number;
  poll: DownloadPollMode;
  pollInterval: number;
  reconcileEvery: number;
  catalogResolution: number;
  fromRse?: string;
  untilCount?: number;
  untilIdle?: number;
  untilClosed?: boolean;
  duration?: number;
  attempts: number;
  corruptionRetries: number;
  giveUpAfter?: number;
  redis?: string;
  logDir: string;
  runName?: string;
  scheduleFromOwner?: boolean;
}

/**
 * One core for this process (polls, the queue, the log), the others for the worker processes, which
 * verify: more processes than cores only make each start slower (every one loads its modules, about
 * half a second of CPU) and verify no faster; each fetches 2 chunks at a time, which covers waiting
 * on the network. At most 4.
 */
const defaultDownloadWorkers = Math.max(1, Math.min(4, availableParallelism() - 1));

/**
 * 250 ms: the plain interval, used before the stream's beat is learned, when it is irregular, and with
 * `--poll incremental|full` (a chunk then waits 125 ms on average to be seen). Phase-locked polling
 * polls once per chunk, just after it is due, whatever this is.
 */
const defaultPollIntervalMs = 250;

export type DownloadCommandFlags = DownloadFlags & RucioFlags;

/** The options and argument of `wavefier download`; `wavefier rehearse` parses the flags it passes with the same ones. */
export function addDownloadOptions(command: Command): Command {
  return command
    .addOption(new Option('--scope <scope>', 'scope of the dataset').default('wavefier'))
    .argument('[did]', 'the dataset to follow, scope:name (or --scope and --dataset)')
    .addOption(new Option('--dataset <name>', 'dataset to follow (or the DID argument)'))
    .addOption(new Option('--dir <dir>', 'verified files land in <dir>/<dataset>/<name>'))
    .addOption(new Option('--dest <dir>').hideHelp())
    .addOption(new Option('--no-subdir', 'put files directly in --dir, without the <dataset> folder'))
    .addOption(new Option('--keep <what>', '"none" verifies without keeping the files (long rehearsals)').choices(['all', 'none']).default('all'))
    .addOption(
      new Option(
        '--workers <n>',
        'worker processes on this host that download and verify (0: in this process, no Redis; 0 with --redis: only `download-worker` processes started elsewhere). ' +
          'Without --workers and --redis, --until-closed on a dataset already closed verifies in this process',
      )
        .argParser(nonNegativeInteger('--workers'))
        .default(defaultDownloadWorkers, `the CPUs less one, 1 to 4: ${defaultDownloadWorkers} here`),
    )
    .addOption(
      new Option('--poll <mode>', 'phase-locked: poll just after each predicted arrival (learned from the stream); incremental: poll every interval; full: list the whole dataset every interval (the seed approach)')
        .choices(['phase-locked', 'incremental', 'full'])
        .default('phase-locked'),
    )
    .addOption(new Option('--poll-interval <duration>', 'time between polls (phase-locked: until the stream is learned, or when it is irregular)').argParser(duration('--poll-interval')).default(defaultPollIntervalMs, '250ms'))
    .addOption(new Option('--reconcile-every <duration>', 'incremental mode: check the dataset length this often, and list it fully when it holds unseen files').argParser(duration('--reconcile-every')).default(60_000, '60s'))
    .addOption(
      new Option('--catalog-resolution <duration>', "incremental polls: the resolution of the catalog's replica update times (Rucio on Oracle or MySQL: 1s; PostgreSQL: 1ms; the embedded lake: 1ms)")
        .argParser(duration('--catalog-resolution'))
        .default(1000, '1s'),
    )
    .addOption(new Option('--from-rse <expr>', 'only count replicas at RSEs matching this expression (replicated chain)'))
    .addOption(new Option('--until-count <n>', 'stop after N verified chunks').argParser(positiveInteger('--until-count')))
    .addOption(new Option('--until-idle <duration>', 'stop after no new chunk for this long').argParser(duration('--until-idle')))
    .addOption(new Option('--until-closed', 'stop when the dataset is closed and every chunk in it is handled'))
    .addOption(new Option('--duration <duration>', 'stop after this long').argParser(duration('--duration')))
    .addOption(new Option('--attempts <n>', 'attempts per chunk for transient failures').argParser(positiveInteger('--attempts')).default(5))
    .addOption(new Option('--corruption-retries <n>', 'fetch a corrupted chunk again this many times before giving up').argParser(nonNegativeInteger('--corruption-retries')).default(3))
    .addOption(
      new Option('--give-up-after <duration>', 'exit 1 when the catalog has not answered for this long (default 5m); rejected credentials exit 2 at once').argParser(
        duration('--give-up-after'),
      ),
    )
    .addOption(new Option('--redis <url>', 'Redis for the download queue (default: a private redis-server)'))
    .addOption(new Option('--log-dir <dir>', 'the log goes to <dir>/<dataset>/download.jsonl (<dir>/<run-name>/ with --run-name)').default('rehearsals'))
    .addOption(new Option('--run-name <name>', 'log folder name under --log-dir (default: the dataset name); the report joins logs by chunk, not by folder'))
    // rehearse's: it relays its upload's schedule (t0, interval) once fixed, so that chunk 0 is polled for when it is due.
    .addOption(new Option('--schedule-from-owner', "phase-locked: lock onto the stream's schedule (a JSON line on stdin from the process that started this one) before its first chunk").hideHelp());
}

/** What the DID argument and the flags of a download name, checked before anything starts. */
export interface DownloadTarget {
  dataset: DatasetDid;
  /** --dir (or its older name --dest). */
  dest?: string;
}

/**
 * The dataset and the places a download writes to, from its DID argument and flags, with the names it
 * turns into paths checked (the log folder under --log-dir, the <dataset> folder under --dir) before
 * anything starts. `wavefier rehearse` checks its download's the same way.
 */
export async function downloadTargetFromFlags(did: string | undefined, flags: DownloadFlags, command: Command): Promise<DownloadTarget> {
  const dataset = datasetArgument(did, command, flags);
  if (dataset === undefined) throw new UsageError('name the dataset to follow: wavefier download scope:name (or --dataset NAME)');
  const dest = eitherName('--dir', flags.dir, '--dest', flags.dest);
  if (dest !== undefined) checkUserPath(dest, '--dir');
  const { downloadLogFolder } = await import('../downloader/download-state.js');
  downloadLogFolder(dataset.name, flags.runName);
  if (dest !== undefined && flags.keep === 'all' && flags.subdir) {
    checkPathName(dataset.name, 'the dataset name', { nested: true, advice: 'it names the folder under --dir unless --no-subdir puts the files in --dir itself' });
  }
  checkPathName(dataset.scope.replaceAll('.', '/'), '--scope', { nested: true });
  return { dataset, ...definedProps({ dest }) };
}

export function registerDownload(program: Command, runtime: Runtime): void {
  const command = program
    .command('download')
    .description('poll a dataset for new chunks; download and verify each with worker processes; log every chunk with its times');
  addDownloadOptions(command).action(async (did: string | undefined, flags: DownloadCommandFlags, cmd: Command) => {
    const ctx = contextFor(cmd, runtime);
    const { dataset, dest } = await downloadTargetFromFlags(did, flags, cmd);
    const config = await rucioConfigFromFlags(flags);
    const [{ checkDownloadRequest }, { startDownloadEarly }, { defaultWorkerConcurrency }, { validateRedisUrl }, { chooseWorkers, choiceNeedsDataset }] = await Promise.all([
      import('../downloader/preflight.js'),
      import('../downloader/early-start.js'),
      import('../downloader/worker-pool.js'),
      import('../redis/url.js'),
      import('../downloader/workers-choice.js'),
    ]);
    // Nothing starts before the request is checked (runDownload checks it again; nothing is created).
    await checkDownloadRequest({ keep: flags.keep, pollIntervalMs: flags.pollInterval, logDir: flags.logDir, ...definedProps({ dest }) });
    if (flags.redis !== undefined) validateRedisUrl(flags.redis);
    const request = { workers: flags.workers, workersGiven: cmd.getOptionValueSource('workers') === 'cli', redisUrl: flags.redis, untilClosed: flags.untilClosed === true };
    // The worker processes (and the private Redis they need) start now: they load their modules while
    // this process loads the rest of its own and asks the catalog its first questions. Not for a run
    // that verifies in this process, nor before the catalog says whether the dataset is closed.
    const startEarly = (workers: number): EarlyStart | undefined =>
      workers === 0 && flags.redis === undefined
        ? undefined
        : startDownloadEarly({
            scope: dataset.scope,
            dataset: dataset.name,
            ...definedProps({ redisUrl: flags.redis }),
            workers,
            concurrency: defaultWorkerConcurrency,
            logDir: flags.logDir,
            rucioSettings: config,
            output: ctx.output,
          });
    let early = choiceNeedsDataset(request) ? undefined : startEarly(flags.workers);
    let client: RucioClient | undefined;
    try {
      // The run's own module, not the downloader's index: that also holds the worker side (the HDF5 decoder).
      const [[rucio, choice], { runDownload }] = await Promise.all([
        rucioClientFor(config, flags).then(async (made) => {
          client = made;
          return [made, await chooseWorkers(request, made, dataset.scope, dataset.name)] as const;
        }),
        import('../downloader/download-run.js'),
      ]);
      if (choiceNeedsDataset(request)) early = startEarly(choice.workers);
      const summary = await runDownload({
        ...definedProps({ early, workersChoice: choice.reason, datasetAtStart: choice.datasetAtStart }),
        ...(flags.redis === undefined ? {} : { redisUrl: flags.redis }),
        rucio,
        workerRucioSettings: config,
        scope: dataset.scope,
        dataset: dataset.name,
        ...(dest === undefined ? {} : { dest }),
        subdir: flags.subdir,
        keep: flags.keep,
        workers: choice.workers,
        pollMode: flags.poll,
        pollIntervalMs: flags.pollInterval,
        reconcileEveryMs: flags.reconcileEvery,
        catalogResolutionMs: flags.catalogResolution,
        ...(flags.fromRse === undefined ? {} : { fromRse: flags.fromRse }),
        ...(flags.untilCount === undefined ? {} : { untilCount: flags.untilCount }),
        ...(flags.untilIdle === undefined ? {} : { untilIdleMs: flags.untilIdle }),
        untilClosed: flags.untilClosed === true,
        ...(flags.duration === undefined ? {} : { durationMs: flags.duration }),
        attempts: flags.attempts,
        corruptionRetries: flags.corruptionRetries,
        ...definedProps({ giveUpAfterMs: flags.giveUpAfter }),
        logDir: flags.logDir,
        ...(flags.runName === undefined ? {} : { runName: flags.runName }),
        ...(flags.scheduleFromOwner === true ? { announcedSchedule: whenOwnerSendsLine(ctx.signal) } : {}),
        signal: ctx.signal,
        output: ctx.output,
      });
      ctx.output.result(summary, renderDownloadSummary(summary));
      // Stopped by a signal: its status (130/143) says so; the summary above gives the counts.
      if ((summary.corrupted > 0 || summary.invalid > 0 || summary.failed > 0) && !ctx.signal.aborted) {
        throw new IntegrityError(
          `${summary.corrupted} chunks never read intact (corrupted), ${summary.invalid} invalid and ${summary.failed} failed for good; details in ${summary.logFile}`,
        );
      }
    } finally {
      await client?.close();
      await early?.stop();
    }
  });
}

export function renderDownloadSummary(summary: DownloadSummary): string {
  const ms = (value: number | undefined): string => (value === undefined ? '-' : formatDuration(value));
  return [
    `download ${summary.scope}:${summary.dataset}: stopped (${summary.stopReason})`,
    `  chunks     ${summary.verified} verified, ${summary.corrupted} corrupted, ${summary.invalid} invalid, ${summary.failed} failed, ${summary.inFlight} in flight` +
      (summary.foreign > 0 ? ` (${summary.foreign} of the verified: foreign files, not wavefier chunks)` : '') +
      (summary.alreadyVerified > 0 ? `, ${summary.alreadyVerified} verified by an earlier run` : ''),
    `  corrupted  ${summary.corruptedReads} corrupted reads, ${summary.chunksWithCorruptedRead} chunks with a corrupted read, ${summary.corrupted} chunks never verified`,
    `  polls      ${summary.polls} (${summary.pollHits} found new chunks, ${summary.pollMisses} found nothing, ${summary.pollErrors} failed; ` +
      `${summary.pollRequests} catalog requests${summary.detected > 0 ? `, ${(summary.pollRequests / summary.detected).toFixed(2)} per chunk` : ''})`,
    `  latency    total p50 ${ms(summary.totalLatencyMs.p50)}, p99 ${ms(summary.totalLatencyMs.p99)}`,
    `  verified   by ${summary.verifiedBy}`,
    `  wall time  ${formatDuration(summary.wallMs)}`,
    `  log        ${summary.logFile}`,
  ].join('\n');
}
