import { Option, type Command } from 'commander';
import { definedProps } from '../common/defined.js';
import { RuntimeFailure, UsageError } from '../common/errors.js';
import { checkPathName } from '../common/safe-path.js';
import { formatDuration } from '../common/duration.js';
import { whenOwnerSendsLine } from '../common/shutdown.js';
import { defaultUploadWorkers } from '../uploader/concurrency.js';
import { replayLine, sourceSpecFrom, syntheticDefaults } from '../uploader/replay.js';
import { validateChunkTag } from '../strain/chunk-name.js';
import type { DqPolicy, GapPolicy } from '../strain/index.js';
import type { ResumeFlags, UploadDryRun, UploadSummary } from '../uploader/index.js';
import type { RucioClient } from '../rucio/index.js';
import type { RunRequest } from '../uploader/run-plan.js';
import { datasetArgument } from './did.js';
import { duration, lifetime, nonNegativeInteger, pointInTime, positiveInteger, positiveNumber } from './parse.js';
import { rucioClientFromFlags, type RucioFlags } from './rucio-options.js';
import { contextFor, type Runtime } from './runtime.js';

interface UploadFlags {
  source?: string;
  order: 'sequential' | 'random';
  seed: number;
  startOffset?: number;
  sampleRate: number;
  detector: string;
  period: number;
  rateFactor: number;
  asFastAsPossible?: boolean;
  duration?: number;
  count?: number;
  startAt?: number;
  alignGps?: boolean;
  late: 'catch-up' | 'skip';
  onGap: GapPolicy;
  onDq: DqPolicy;
  resample?: number;
  dryRun?: boolean;
  scope: string;
  dataset?: string;
  rse?: string;
  tag?: string;
  replicateTo?: string;
  /** Seconds. */
  lifetime?: number;
  closeDataset?: boolean;
  startWhenTold?: boolean;
  uploadMode: 'fast' | 'rucio-compatible';
  workers?: number;
  attempts: number;
  redis?: string;
  resume?: string;
  runId?: string;
  logDir: string;
  drainTimeout: number;
}

/** The options and argument of `wavefier upload`; `wavefier rehearse` parses the flags it passes with the same ones. */
export function addUploadOptions(command: Command): Command {
  return command
    .addOption(new Option('--source <file|synthetic>', 'GWOSC/LOSC HDF5 file to replay, or "synthetic" for seeded coloured noise'))
    .addOption(new Option('--order <order>', 'how chunks are drawn from a file').choices(['sequential', 'random']).default('sequential'))
    .addOption(new Option('--seed <n>', 'seed of the random order and of the synthetic stream').argParser(nonNegativeInteger('--seed')).default(1))
    .addOption(new Option('--start-offset <duration>', 'where in the file the replay starts (e.g. 10s)').argParser(durationOrZero('--start-offset')))
    .addOption(new Option('--sample-rate <hz>', 'sample rate of the synthetic stream').argParser(positiveInteger('--sample-rate')).default(syntheticDefaults.sampleRate))
    .addOption(new Option('--detector <ifo>', 'detector of the synthetic stream').default(syntheticDefaults.detector))
    .addOption(new Option('--period <duration>', 'data time per chunk and nominal spacing').argParser(duration('--period')).default(1000, '1s'))
    .addOption(new Option('--rate-factor <n>', 'replay N times faster than real time').argParser(positiveNumber('--rate-factor')).default(1))
    .addOption(new Option('--as-fast-as-possible', 'no pacing: enqueue as fast as the workers upload').conflicts('rateFactor'))
    .addOption(new Option('--duration <duration>', 'data time to upload, e.g. 4h (count = duration / period)').argParser(duration('--duration')))
    .addOption(new Option('--count <n>', 'number of chunks to upload').argParser(positiveInteger('--count')).conflicts('duration'))
    .addOption(new Option('--start-at <time>', 'when chunk 0 is due: ISO time, epoch ms or +30s').argParser(pointInTime('--start-at')))
    .addOption(new Option('--align-gps', 'start on a whole GPS second'))
    .addOption(new Option('--late <policy>', 'chunks whose slot passed while the process was behind').choices(['catch-up', 'skip']).default('catch-up'))
    .addOption(new Option('--on-gap <policy>', 'chunks that contain NaN samples').choices(['skip', 'send', 'fail']).default('skip'))
    .addOption(new Option('--on-dq <policy>', "chunks with a second that fails the file's data quality (DATA or a CAT1 flag unset)").choices(['send', 'skip']).default('send'))
    .addOption(new Option('--resample <hz>', "send a file at this rate, a whole division of the file's (e.g. 4096 for a 16 kHz file): anti-aliased, float64").argParser(positiveInteger('--resample')))
    .addOption(new Option('--scope <scope>', 'Rucio scope of the chunks and the dataset').default('wavefier'))
    .argument('[did]', 'the dataset to attach chunks to, scope:name (or --scope and --dataset)')
    .addOption(new Option('--dataset <name>', 'dataset to attach chunks to (created if missing; default wavefier-<run id>)'))
    .addOption(new Option('--rse <rse>', 'RSE to upload to (required for a new run)'))
    .addOption(new Option('--tag <tag>', 'TAG of the IGWN chunk names <SITE>-<IFO>_<TAG>-<GPS>-<DUR>.hdf5 (default WAVEFIER_<run id>, unique per run)'))
    .addOption(new Option('--replicate-to <expr>', 'also add a dataset rule to this RSE expression (EGO → CERN → CNAF chain)'))
    .addOption(
      new Option('--lifetime <duration>', "a new dataset's lifetime, and its rules' (also --replicate-to's), e.g. 7d: Rucio's daemons delete it all after that (default: none)")
        .argParser(lifetime('--lifetime')),
    )
    .addOption(new Option('--close-dataset', 'close the dataset when the run completes'))
    .addOption(
      new Option('--upload-mode <mode>', 'fast: one catalog call per chunk; rucio-compatible: the official client\'s register, PUT, mark AVAILABLE, attach (for policies that check replica registration)')
        .choices(['fast', 'rucio-compatible'])
        .default('fast'),
    )
    .addOption(new Option('--workers <n>', 'concurrent uploads in this process (0: only upload-worker processes; default 4, 16 with --as-fast-as-possible)').argParser(nonNegativeInteger('--workers')))
    .addOption(new Option('--attempts <n>', 'attempts per chunk before it is logged as failed').argParser(positiveInteger('--attempts')).default(5))
    .addOption(new Option('--redis <url>', 'Redis for the queue and run state (default: a private redis-server for this run)'))
    .addOption(new Option('--resume <run>', 'continue a run that was interrupted (needs --redis; its settings come from Redis, and run flags given again must agree with them)'))
    .addOption(new Option('--run-id <id>', 'run id (default: UTC timestamp plus random suffix)'))
    .addOption(new Option('--log-dir <dir>', 'logs go to <dir>/<run id>/upload.jsonl').default('rehearsals'))
    .addOption(new Option('--dry-run', 'resolve the RSE, its protocol, the PFN of chunk 0 and the schedule, print them, and stop: nothing is written'))
    .addOption(new Option('--drain-timeout <duration>', 'wait this long after the last chunk for uploads in flight').argParser(duration('--drain-timeout')).default(60_000, '60s'))
    // rehearse's: pacing starts when its download is ready, so that chunk 0 is measured like any other.
    .addOption(new Option('--start-when-told', 'fix the schedule (t0) only once a line arrives on stdin from the process that started this one').hideHelp());
}

export type UploadCommandFlags = UploadFlags & RucioFlags;

/** A run as the flags ask for it, checked as far as can be without starting anything; the source is opened by prepareUploadRun. */
export interface UploadRequest extends RunRequest {
  redisUrl?: string;
  resume?: string;
  resumeFlags?: ResumeFlags;
  replicateTo?: string;
  dryRun: boolean;
}

/**
 * The run that the DID argument and the flags ask for, checked as far as can be without starting
 * anything (the source spec, the tag, the names, --resume's needs); `command` is the parsed command,
 * which tells flags given on the command line from defaults.
 */
export function uploadRequestFromFlags(did: string | undefined, flags: UploadFlags, command: Command): UploadRequest {
  const dataset = datasetArgument(did, command, flags);
  if (flags.resume === undefined && flags.source === undefined) throw new UsageError('--source is required: an HDF5 file, or "synthetic"');
  const source = flags.resume === undefined ? sourceSpecFrom({ ...flags, source: flags.source ?? 'synthetic' }) : undefined;
  if (flags.dryRun === true && flags.resume !== undefined) throw new UsageError('--dry-run plans a new run; it cannot be combined with --resume');
  if (flags.resume !== undefined && flags.redis === undefined) {
    throw new UsageError('--resume needs --redis: the run state lives in the Redis of the interrupted run');
  }
  if (flags.resume === undefined && flags.rse === undefined) throw new UsageError('--rse is required: the RSE to upload to (a run continued with --resume takes its own)');
  const tag = flags.tag === undefined ? undefined : validateChunkTag(flags.tag);
  // Run ids name the log folder under --log-dir; scopes become paths in file RSEs (user.x → user/x).
  if (flags.runId !== undefined) checkPathName(flags.runId, '--run-id');
  if (flags.resume !== undefined) checkPathName(flags.resume, '--resume');
  checkPathName(flags.scope.replaceAll('.', '/'), '--scope', { nested: true });
  return {
    ...definedProps({ runId: flags.runId, source, redisUrl: flags.redis, resume: flags.resume }),
    ...(flags.resume === undefined ? {} : { resumeFlags: resumeFlagsOf(flags, command, tag) }),
    periodMs: flags.period,
    rateFactor: flags.rateFactor,
    asFastAsPossible: flags.asFastAsPossible === true,
    ...definedProps({ count: flags.count, durationMs: flags.duration, startAt: flags.startAt }),
    alignGps: flags.alignGps === true,
    latePolicy: flags.late,
    gapPolicy: flags.onGap,
    dqPolicy: flags.onDq,
    scope: dataset?.scope ?? flags.scope,
    ...definedProps({ dataset: dataset?.name, tag, replicateTo: flags.replicateTo, rse: flags.rse }),
    uploadMode: flags.uploadMode,
    logDir: flags.logDir,
    dryRun: flags.dryRun === true,
  };
}

export function registerUpload(program: Command, runtime: Runtime): void {
  const command = program
    .command('upload')
    .description('paced upload of 1 s strain chunks into the data lake through a BullMQ queue, with latency and integrity logs');
  addUploadOptions(command).action(async (did: string | undefined, flags: UploadCommandFlags, cmd: Command) => {
    const ctx = contextFor(cmd, runtime);
    const { dryRun, ...request } = uploadRequestFromFlags(did, flags, cmd);
    // Checked, and the source opened, before the Rucio and queue libraries load and before anything
    // starts: a usage problem is answered at once and leaves nothing behind.
    const { prepareUploadRun } = await import('../uploader/preflight.js');
    const prepared = request.resume === undefined && !dryRun ? await prepareUploadRun(request) : undefined;
    // The request is good: a private redis-server (a run without --redis) starts now, while the Rucio
    // client and the queue libraries load, instead of after them. runUpload takes it over.
    const privateRedis = dryRun || request.redisUrl !== undefined ? undefined : import('../redis/private-server.js').then(({ startPrivateRedis }) => startPrivateRedis());
    // Its failure (no redis-server installed) is runUpload's to report; a run that stops before then stops it.
    const earlyRedis = privateRedis?.catch(() => undefined);
    let client: RucioClient | undefined;
    try {
      // Loaded here, not at start-up: `wavefier --help` should not pay for HDF5, BullMQ and the Rucio client.
      const [rucio, { planUploadDryRun, runUpload }] = await Promise.all([rucioClientFromFlags(flags), import('../uploader/index.js')]);
      client = rucio.client;
      if (dryRun) {
        const plan = await planUploadDryRun({ ...request, rucio: client });
        ctx.output.result({ event: 'dry_run', ...plan }, renderDryRun(plan));
        return;
      }
      const summary = await runUpload({
        ...request,
        ...definedProps({ prepared, lifetimeSeconds: flags.lifetime, privateRedis }),
        rucio: client,
        closeDataset: flags.closeDataset === true,
        workers: flags.workers ?? defaultUploadWorkers(flags.asFastAsPossible === true),
        attempts: flags.attempts,
        drainTimeoutMs: flags.drainTimeout,
        ...(flags.startWhenTold === true ? { startGate: async () => { await whenOwnerSendsLine(ctx.signal); } } : {}),
        signal: ctx.signal,
        output: ctx.output,
      });
      ctx.output.result(summary, renderUploadSummary(summary));
      // Stopped by a signal: its status (130/143) says so, whatever the chunks did until then.
      if (summary.failed > 0 && !summary.interrupted) {
        throw new RuntimeFailure(`${summary.failed} of ${summary.scheduled} chunks failed to upload; the reasons are in ${summary.logFile}`);
      }
    } finally {
      await client?.close();
      await (await earlyRedis)?.stop();
    }
  });
}

/** The run-defining flags given on the command line (not defaults), for a resumed run to check. */
function resumeFlagsOf(flags: UploadFlags, cmd: Command, tag: string | undefined): ResumeFlags {
  const given = <K extends keyof UploadFlags>(key: K): UploadFlags[K] | undefined => {
    const source = cmd.getOptionValueSource(key);
    return source === undefined || source === 'default' ? undefined : flags[key];
  };
  return definedProps({
    source: given('source'),
    order: given('order'),
    seed: given('seed'),
    startOffset: given('startOffset'),
    sampleRate: given('sampleRate'),
    detector: given('detector'),
    periodMs: given('period'),
    rateFactor: given('rateFactor'),
    asFastAsPossible: given('asFastAsPossible'),
    count: given('count'),
    durationMs: given('duration'),
    startAt: given('startAt'),
    alignGps: given('alignGps'),
    latePolicy: given('late'),
    gapPolicy: given('onGap'),
    scope: given('scope'),
    dataset: given('dataset'),
    rse: given('rse'),
    tag: given('tag') === undefined ? undefined : tag,
    runId: given('runId'),
    logDir: given('logDir'),
  });
}

function durationOrZero(flag: string): (value: string) => number {
  const parse = duration(flag);
  return (value) => (value.trim() === '0' ? 0 : parse(value));
}

export function renderUploadSummary(summary: UploadSummary): string {
  const ms = (value: number | undefined): string => (value === undefined ? '-' : formatDuration(value));
  return [
    `upload run ${summary.run}${summary.interrupted ? ' (interrupted)' : ''}: ${summary.scope}:${summary.dataset} on ${summary.rse}`,
    `  chunks     ${summary.uploaded} uploaded, ${summary.failed} failed, ${summary.skipped} skipped, ${summary.late} late, of ${summary.scheduled} scheduled` +
      (summary.dqFlagged > 0 ? `; ${summary.dqFlagged} failing DQ` : ''),
    `  pacing     p50 ${ms(summary.pacingErrorMs.p50)}, p99 ${ms(summary.pacingErrorMs.p99)}, max ${ms(summary.pacingErrorMs.max)}`,
    `  upload     p50 ${ms(summary.uploadLatencyMs.p50)}, p99 ${ms(summary.uploadLatencyMs.p99)}, max ${ms(summary.uploadLatencyMs.max)} (this process's workers)`,
    `  catalog    ${summary.attachRequests} attach request${summary.attachRequests === 1 ? '' : 's'} (this process's workers)`,
    `  wall time  ${formatDuration(summary.wallMs)}`,
    `  log        ${summary.logFile}`,
  ].join('\n');
}

function renderDryRun(plan: UploadDryRun): string {
  const { schedule } = plan;
  const pace =
    schedule.intervalMs === 0
      ? 'as fast as possible'
      : `one every ${formatDuration(schedule.intervalMs)} (rate factor ${schedule.rateFactor})${schedule.spanMs === undefined ? '' : `, ${formatDuration(schedule.spanMs)} in all`}`;
  const { protocol } = plan;
  return [
    `upload dry run: nothing was written (run id ${plan.run} would be used)`,
    `  ${replayLine(plan.replay)}`,
    `  schedule   ${schedule.count === undefined ? 'until stopped' : `${schedule.count} chunks`} of ${formatDuration(schedule.periodMs)}, ${pace}`,
    `  dataset    ${plan.scope}:${plan.dataset} (${plan.datasetExists ? `exists, ${plan.datasetOpen === false ? 'closed: uploads will be refused' : 'open'}` : 'does not exist: the upload creates it'})` +
      (plan.replicateTo === undefined ? '' : `, rule to ${plan.replicateTo}`),
    `  rse        ${plan.rse}: protocol ${protocol.scheme}://${protocol.hostname}${protocol.port > 0 ? `:${protocol.port}` : ''}${protocol.prefix}, ` +
      (plan.deterministic ? `deterministic, lfn2pfn ${plan.lfn2pfn}` : 'non-deterministic (PFNs from the server)'),
    `  chunk 0    ${plan.scope}:${plan.firstChunk.name} (${plan.firstChunk.bytes} bytes)`,
    `  pfn        ${plan.firstChunk.pfn}`,
    ...(plan.lastChunk === undefined ? [] : [`  last       ${plan.scope}:${plan.lastChunk.name}`]),
  ].join('\n');
}
