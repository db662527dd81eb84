import { Option, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { definedProps } from '../common/defined.js';
import { ExitCode, IntegrityError, InterruptedError, UsageError, errorMessage } from '../common/errors.js';
import { formatDuration } from '../common/duration.js';
import { checkUserPath } from '../common/safe-path.js';
import { checkWritableDir } from '../common/writable-dir.js';
import { addDownloadOptions, downloadTargetFromFlags, type DownloadCommandFlags } from './download.js';
import { duration, eitherName, lifetime, nonNegativeInteger, parseWithOptions, positiveInteger, positiveNumber } from './parse.js';
import { addRucioOptions, rucioConfigFromFlags, rucioFlagArgs, type RucioFlags } from './rucio-options.js';
import { addUploadOptions, uploadRequestFromFlags, type UploadCommandFlags } from './upload.js';
import { defaultUploadWorkers } from '../uploader/concurrency.js';
import { sloHelp } from './report.js';
import { contextFor, type Runtime } from './runtime.js';

interface RehearseFlags extends RucioFlags {
  count?: number;
  duration?: number;
  period: number;
  rateFactor: number;
  asFastAsPossible?: boolean;
  source: string;
  order: 'sequential' | 'random';
  seed: number;
  onGap: 'skip' | 'send' | 'fail';
  onDq: 'send' | 'skip';
  resample?: number;
  uploadWorkers?: number;
  /** The older name of --upload-workers. */
  workers?: number;
  downloadWorkers: number;
  poll: 'phase-locked' | 'incremental' | 'full';
  pollInterval?: number;
  keep: 'all' | 'none';
  logDir: string;
  external?: boolean;
  rse?: string;
  scope: string;
  /** Seconds (--lifetime), for the upload's dataset and rules. */
  lifetime?: number;
  redis?: string;
  lakeDir?: string;
  deadline?: number;
  progressInterval?: number;
  /** --plots / --no-plots; unset: plots unless --json. */
  plots?: boolean;
  slo: string[];
  uploadArgs?: string;
  downloadArgs?: string;
  faults?: string;
  davsRse: string[];
}

export function registerRehearse(program: Command, runtime: Runtime): void {
  program
    .command('rehearse')
    .description('one-command rehearsal: embedded lake + private Redis, upload and download as two processes, then the report')
    .addOption(new Option('--count <n>', 'chunks to inject').argParser(positiveInteger('--count')))
    .addOption(new Option('--duration <duration>', 'data time to inject instead of --count, e.g. 4h').argParser(duration('--duration')).conflicts('count'))
    .addOption(new Option('--period <duration>', 'data time per chunk').argParser(duration('--period')).default(1000, '1s'))
    .addOption(
      new Option('--rate-factor <n>', 'replay N times faster than real time (1 = a real-time rehearsal; 10 here so that a first try takes seconds, 1 in upload)')
        .argParser(positiveNumber('--rate-factor'))
        .default(10),
    )
    .addOption(new Option('--as-fast-as-possible', 'no pacing: measure throughput'))
    .addOption(new Option('--source <file|synthetic>', 'GWOSC/LOSC HDF5 file to replay, or synthetic noise (upload has no default)').default('synthetic'))
    .addOption(new Option('--order <order>', 'how chunks are drawn from a file').choices(['sequential', 'random']).default('sequential'))
    .addOption(new Option('--seed <n>', 'seed of the random order and the synthetic stream').argParser(nonNegativeInteger('--seed')).default(1))
    .addOption(new Option('--on-gap <policy>', 'chunks that contain NaN samples, as in upload').choices(['skip', 'send', 'fail']).default('skip'))
    .addOption(new Option('--on-dq <policy>', "chunks with a second that fails the file's data quality, as in upload").choices(['send', 'skip']).default('send'))
    .addOption(new Option('--resample <hz>', "send a file at this rate, a whole division of the file's, as in upload").argParser(positiveInteger('--resample')))
    .addOption(new Option('--upload-workers <n>', "concurrent uploads: upload's --workers (default 4, 16 with --as-fast-as-possible)").argParser(positiveInteger('--upload-workers')))
    .addOption(new Option('--workers <n>').argParser(positiveInteger('--workers')).hideHelp())
    .addOption(
      new Option(
        '--download-workers <n>',
        "download's --workers: 0 here, the download verifies in its own process, without Redis (the two sides share this host, and one process keeps up with an unpaced replay for less CPU than a worker process); N: N worker processes",
      )
        .argParser(nonNegativeInteger('--download-workers'))
        .default(0),
    )
    .addOption(new Option('--poll <mode>', 'download poll mode').choices(['phase-locked', 'incremental', 'full']).default('phase-locked'))
    .addOption(new Option('--poll-interval <duration>', 'time between download polls (default 250ms)').argParser(duration('--poll-interval')))
    .addOption(new Option('--keep <what>', 'keep downloaded files under <run>/downloads ("all") or only verify them (none here, all in download: a rehearsal checks, it does not collect)').choices(['all', 'none']).default('none'))
    .addOption(new Option('--log-dir <dir>', 'the run goes to <dir>/<run id>/ (logs, report, lake state)').default('rehearsals'))
    .addOption(new Option('--external', 'rehearse against the Rucio deployment of rucio.cfg / RUCIO_* instead of the embedded lake'))
    .addOption(new Option('--rse <rse>', 'RSE to upload to (default: the embedded lake\'s LAKE_S3, or its WebDAV RSE with --davs-rse)'))
    .addOption(
      new Option(
        '--davs-rse <[NAME=]url>',
        'the embedded lake also describes a WebDAV RSE (LAKE_DAVS) at https://host:port/path/, reached with your X.509 proxy, certificate or bearer token (repeatable)',
      )
        .argParser((value: string, previous: string[]) => [...previous, value])
        .default([]),
    )
    .addOption(new Option('--scope <scope>', 'Rucio scope').default('wavefier'))
    .addOption(
      new Option(
        '--lifetime <duration>',
        "the rehearsal dataset's lifetime and its rules', as upload's --lifetime, e.g. 7d: Rucio's daemons delete it all after that (with --external; the embedded lake runs no daemons, it records the expiry)",
      ).argParser(lifetime('--lifetime')),
    )
    .addOption(new Option('--redis <url>', 'Redis to use (default: a private redis-server)'))
    .addOption(new Option('--lake-dir <dir>', 'state directory of the embedded lake (default: <run>/lake)'))
    .addOption(new Option('--deadline <duration>', 'stop both sides after this long (default: expected duration + 2 min; unpaced: 25 ms per chunk + 2 min)').argParser(duration('--deadline')))
    .addOption(
      new Option('--progress-interval <duration>', 'without a terminal, a progress line on stderr this often (default 1m); with --json, a progress event on stdout (default 10s)').argParser(
        atLeastOneSecond('--progress-interval'),
      ),
    )
    .addOption(new Option('--plots', 'draw the plots and the HTML page (the default, except with --json)'))
    .addOption(new Option('--no-plots', 'skip plots and the HTML page'))
    .addOption(new Option('--slo <objectives>', sloHelp).argParser((value: string, previous: string[]) => [...previous, value]).default([]))
    .addOption(new Option('--upload-args <flags>', 'more flags for `wavefier upload`, e.g. "--late skip --attempts 8"'))
    .addOption(new Option('--download-args <flags>', 'more flags for `wavefier download`, e.g. "--corruption-retries 5"'))
    .addOption(
      new Option('--faults <json|@file>', 'fault injection rules for the embedded lake, e.g. \'{"storage":[{"corruptWriteBurst":2}]}\''),
    )
    .action(async (flags: RehearseFlags, cmd: Command) => {
      const ctx = contextFor(cmd, runtime);
      checkUserPath(flags.logDir, '--log-dir');
      if (flags.lakeDir !== undefined) checkUserPath(flags.lakeDir, '--lake-dir');
      // The Rucio flags are for --external: checked here, before anything starts, then given to both sides.
      // With a WebDAV RSE the storage credentials are the user's own, so those flags apply too.
      const rucioArgs = rucioFlagArgs(flags);
      if (flags.davsRse.length > 0 && flags.external === true) throw new UsageError('--davs-rse describes a WebDAV RSE in the embedded lake: it does not go with --external');
      if (flags.external === true && flags.rse === undefined) throw new UsageError('--rse is required with --external: name the RSE to upload to');
      if (flags.external === true) await rucioConfigFromFlags(flags, runtime.env);
      else {
        const storageFlags = flags.davsRse.length > 0 ? ['--bearer-token-file', '--ca-cert'] : [];
        const refused = rucioArgs.find((arg) => arg.startsWith('--') && !storageFlags.includes(arg));
        if (refused !== undefined) throw new UsageError(`${refused} applies to --external only: the embedded lake brings its own connection`);
      }
      const [{ chunkCount }, { newRunId }, { childArgs }] = await Promise.all([
        import('../uploader/run-plan.js'),
        import('../common/run-id.js'),
        import('../rehearse/child-args.js'),
      ]);
      // Checked before anything starts: a typo in an objective must not cost a rehearsal.
      const { readObjectives } = await import('../report/index.js');
      const objectives = await readObjectives(flags.slo);
      const count = Math.max(1, chunkCount({ count: flags.count, durationMs: flags.duration }, flags.period) ?? 60);
      const request = {
        runId: newRunId(Date.now()),
        count,
        periodMs: flags.period,
        rateFactor: flags.rateFactor,
        asFastAsPossible: flags.asFastAsPossible === true,
        source: flags.source,
        order: flags.order,
        seed: flags.seed,
        onGap: flags.onGap,
        onDq: flags.onDq,
        ...definedProps({ resample: flags.resample }),
        uploadWorkers: eitherName('--upload-workers', cmd.getOptionValueSource('uploadWorkers') === 'cli' ? flags.uploadWorkers : undefined, '--workers', flags.workers) ?? defaultUploadWorkers(flags.asFastAsPossible === true),
        downloadWorkers: flags.downloadWorkers,
        pollMode: flags.poll,
        ...definedProps({ pollIntervalMs: flags.pollInterval }),
        keep: flags.keep,
        logDir: flags.logDir,
        external: flags.external === true,
        davsRses: flags.davsRse,
        ...definedProps({ rse: flags.rse, redisUrl: flags.redis, lakeDir: flags.lakeDir, deadlineMs: flags.deadline, progressIntervalMs: flags.progressInterval }),
        scope: flags.scope,
        ...definedProps({ lifetimeSeconds: flags.lifetime }),
        // With --json, plots are a side effect a script asks for (--plots).
        plots: flags.plots ?? !ctx.json,
        objectives,
        uploadArgs: [...rucioArgs, ...splitArgs(flags.uploadArgs)],
        downloadArgs: [...rucioArgs, ...splitArgs(flags.downloadArgs)],
        ...(flags.faults === undefined ? {} : { faults: await readJsonArgument('--faults', flags.faults) }),
      };
      // Everything a usage problem can hide in is checked before the lake, Redis or a child starts
      // (one line, exit 2, at once): the upload's and download's flags as they will get them, parsed
      // with their own definitions, the source opened, the places they write to.
      if (request.lakeDir !== undefined) await checkWritableDir(request.lakeDir, '--lake-dir');
      const args = childArgs(request, {
        runId: request.runId,
        logDir: resolve(request.logDir),
        // Known once they run; these stand in for them.
        redisUrl: request.redisUrl ?? 'redis://127.0.0.1:6379',
        rse: request.rse ?? 'LAKE_S3',
      });
      await checkUploadArgs(args.upload.slice(1));
      await checkDownloadArgs(args.download.slice(1));

      const [{ rehearse }, { incompleteExitCode, renderListing, renderText, reportExitCode, reportToJson, verdictErrorFor }] = await Promise.all([
        import('../rehearse/index.js'),
        import('../report/index.js'),
      ]);
      const result = await rehearse({ ...request, signal: ctx.signal, output: ctx.output, ...definedProps({ stdout: runtime.stdout }) });
      // A rehearsal that is not clean names its problem chunks, rclone-check style.
      const problems = reportExitCode(result.report) === 0 ? '' : renderListing(result.report, { all: false });
      const text = [
        renderText(result.report),
        ...(problems === '' ? [] : ['', problems]),
        '',
        `run directory  ${result.runDir}`,
        ...(result.htmlFile === undefined ? [] : [`report page    ${result.htmlFile}`]),
        `wall time      ${formatDuration(result.wallMs)}`,
      ].join('\n');
      ctx.output.result(
        // The same object as `wavefier --json report` (docs/report.schema.json), with the rehearsal's own part.
        reportToJson(result.report, {
          command: 'rehearse',
          rehearsal: { runDir: result.runDir, htmlFile: result.htmlFile, wallMs: result.wallMs },
          ...definedProps({ plots: result.plotFiles }),
        }),
        text,
      );
      // Its reader gone, the rehearsal was stopped early: the status says so (143), as after a SIGTERM.
      if (result.readerGone && result.exitCode !== ExitCode.integrity) throw new InterruptedError('SIGPIPE');
      if (result.exitCode === ExitCode.integrity) throw new IntegrityError(`rehearsal ${result.run} is not clean: see the report above`);
      // Stopped by its --deadline (not by a signal) with nothing lost: exit 4, as `wavefier report` does;
      // no verdict (a side's log missing, or nothing uploaded): exit 5, never a pass.
      if (result.exitCode === incompleteExitCode || result.exitCode === ExitCode.noVerdict || result.exitCode === ExitCode.latency) {
        throw verdictErrorFor(result.report) ?? new IntegrityError(`rehearsal ${result.run} has no verdict`);
      }
    });
}

/** The flags of the upload a rehearsal starts, checked as `wavefier upload` checks its own before it starts anything. */
async function checkUploadArgs(args: readonly string[]): Promise<void> {
  const origin = 'the upload this rehearsal starts refuses its flags (see --upload-args)';
  const parsed = parseWithOptions((command) => addRucioOptions(addUploadOptions(command)), 'upload', args, origin);
  // As commander hands flags to a command's action: typed by the definitions they were parsed with.
  const { dryRun, ...request } = uploadRequestFromFlags(parsed.args[0], parsed.flags as UploadCommandFlags, parsed.command);
  if (dryRun) throw new UsageError(`${origin}: --dry-run stops before anything is uploaded; a rehearsal needs its chunks`);
  if (request.resume !== undefined) return;
  const { prepareUploadRun } = await import('../uploader/preflight.js');
  const prepared = await prepareUploadRun(request);
  prepared.source.close();
}

/** The flags of the download a rehearsal starts, checked as `wavefier download` checks its own. */
async function checkDownloadArgs(args: readonly string[]): Promise<void> {
  const origin = 'the download this rehearsal starts refuses its flags (see --download-args)';
  const parsed = parseWithOptions((command) => addRucioOptions(addDownloadOptions(command)), 'download', args, origin);
  const flags = parsed.flags as DownloadCommandFlags;
  const { dest } = await downloadTargetFromFlags(parsed.args[0], flags, parsed.command);
  const { checkDownloadRequest } = await import('../downloader/preflight.js');
  await checkDownloadRequest({ keep: flags.keep, ...definedProps({ dest }), pollIntervalMs: flags.pollInterval, logDir: flags.logDir });
}

/** A duration of at least a second: progress more often than that would be noise in a log. */
function atLeastOneSecond(flag: string): (value: string) => number {
  const parse = duration(flag);
  return (value) => {
    const ms = parse(value);
    if (ms < 1000) throw new UsageError(`invalid ${flag} '${value}': give at least 1s`);
    return ms;
  };
}

/** A JSON value given inline or as @file. */
async function readJsonArgument(flag: string, value: string): Promise<unknown> {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = await readFile(value.slice(1), 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${flag} file ${value.slice(1)}: ${errorMessage(error)}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag} is not valid JSON: ${errorMessage(error)}`);
  }
}

/** Splits "--a 1 --b two" into arguments; quotes group words ("--x 'a b'"). */
function splitArgs(text: string | undefined): string[] {
  if (text === undefined) return [];
  const parts = text.match(/'[^']*'|"[^"]*"|\S+/g) ?? [];
  return parts.map((part) => part.replace(/^(['"])(.*)\1$/, '$2'));
}
