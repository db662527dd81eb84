import { z } from 'zod';
import { datasetMarker } from '../common/dataset-marker.js';
import { definedProps } from '../common/defined.js';
import { UsageError } from '../common/errors.js';
import { gpsToUnixMs, unixMsToGps } from '../common/gps.js';
import { newRunId, runTag } from '../common/run-id.js';
import type { RucioClient, RuleRequest, UploadMode } from '../rucio/index.js';
import type { DqPolicy, GapPolicy, SourceSpec } from '../strain/index.js';
import type { LatePolicy } from './pacer.js';

/** What a new run is asked to do: the source, its schedule and where its chunks go. */
export interface RunRequest {
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
  /** Default send. */
  dqPolicy?: DqPolicy;
  scope: string;
  dataset?: string;
  /** Required for a new run; a resumed run has its own. */
  rse?: string;
  /** TAG of the chunk names; default `WAVEFIER_<run id>` (see runTag). */
  tag?: string;
  /** `rucio-compatible`: the official client's register-COPYING, PUT, mark-AVAILABLE, attach (default `fast`). */
  uploadMode?: UploadMode;
  logDir: string;
}

/**
 * The settings of a run, as the run state keeps them in Redis (RunState): a resumed run, or an
 * upload-worker on another host, reads them back from there.
 */
export const runSettingsSchema = z.object({
  runId: z.string().min(1),
  t0: z.number(),
  periodMs: z.number().positive(),
  rateFactor: z.number().positive(),
  /** 0 when chunks are emitted as fast as possible. */
  intervalMs: z.number().nonnegative(),
  count: z.number().int().positive().optional(),
  gpsStart: z.number().int(),
  duration: z.number().positive(),
  source: z.record(z.string(), z.unknown()),
  scope: z.string(),
  dataset: z.string(),
  rse: z.string(),
  tag: z.string(),
  latePolicy: z.enum(['catch-up', 'skip']),
  gapPolicy: z.enum(['skip', 'send', 'fail']),
  /** Absent in runs recorded before the DQ policy existed: they sent everything. */
  dqPolicy: z.enum(['send', 'skip']).optional(),
  logDir: z.string(),
  createdAt: z.number(),
  /** The Rucio server the run uploads to: an upload-worker configured for another one leaves it alone. */
  rucioHost: z.string().optional(),
  /** Absent in runs of older versions: `fast`. */
  uploadMode: z.enum(['fast', 'rucio-compatible']).optional(),
});
export type RunSettings = z.infer<typeof runSettingsSchema>;

/**
 * Chunk 0 of a new run is due this long after its schedule is fixed: enough for what comes before
 * the first job is queued (the run's state in Redis, its log lines, the event pump, the pacer).
 * With 20 ms, chunk 0 of a rehearsal at load 5-9 was queued 4-14 ms after it was due (later chunks
 * 1 ms), which its upload latency and pacing error carried.
 */
const startLeadMs = 100;

/** Chunks in `durationMs` of data cut into periods of `periodMs`: only whole chunks count. */
export function chunkCount(request: { count?: number | undefined; durationMs?: number | undefined }, periodMs: number): number | undefined {
  return request.count ?? (request.durationMs === undefined ? undefined : Math.floor(request.durationMs / periodMs));
}

/** The settings of a new run, before its schedule is fixed (t0 is set by fixSchedule). */
export function planRun(request: RunRequest, rucioHost: string | undefined, now: () => number): RunSettings {
  if (!request.source) throw new UsageError('no --source given: pass an HDF5 file or "synthetic"');
  if (request.rse === undefined) throw new UsageError('--rse is required for a new run: the RSE to upload to (a resumed run takes its RSE from Redis)');
  if (!(request.periodMs > 0)) throw new UsageError(`--period must be positive, got ${request.periodMs} ms`);
  if (!(request.rateFactor > 0)) throw new UsageError(`--rate-factor must be positive, got ${request.rateFactor}`);
  const runId = request.runId ?? newRunId(now());
  const count = chunkCount(request, request.periodMs);
  if (count !== undefined && count < 1) throw new UsageError('nothing to upload: --count/--duration gives fewer than one chunk');
  // With --align-gps chunk 0 is due on a whole GPS second far enough ahead to finish setting up.
  const alignedStart = Math.ceil(unixMsToGps((request.startAt ?? now()) + 1000));
  return {
    runId,
    t0: request.alignGps ? gpsToUnixMs(alignedStart) : (request.startAt ?? 0),
    periodMs: request.periodMs,
    rateFactor: request.rateFactor,
    intervalMs: request.asFastAsPossible ? 0 : request.periodMs / request.rateFactor,
    ...definedProps({ count }),
    gpsStart: request.alignGps ? alignedStart : Math.floor(unixMsToGps(request.startAt ?? now())),
    duration: request.periodMs / 1000,
    source: request.source,
    scope: request.scope,
    dataset: request.dataset ?? `wavefier-${runId}`,
    rse: request.rse,
    tag: request.tag ?? runTag(runId),
    ...definedProps({ uploadMode: request.uploadMode }),
    latePolicy: request.latePolicy,
    gapPolicy: request.gapPolicy,
    dqPolicy: request.dqPolicy ?? 'send',
    logDir: request.logDir,
    createdAt: now(),
    ...definedProps({ rucioHost }),
  };
}

/**
 * Fixes the schedule of a planned run, unless --start-at or --align-gps did: called once the slow
 * set-up is done, so that chunk 0 is not already late when pacing starts.
 */
export function fixSchedule(plan: RunSettings, aligned: boolean, now: () => number): RunSettings {
  return aligned || plan.t0 > 0 ? plan : { ...plan, t0: now() + startLeadMs };
}

/**
 * Creates the run's dataset (if missing) with its rules: one on the run's RSE, one more for
 * --replicate-to. A new dataset carries wavefier's marker (datasetMarker), so that `wavefier clean`
 * knows it made it; with a lifetime (seconds) the dataset and its rules expire, and Rucio's daemons
 * (undertaker, judge-cleaner, reaper) remove them and their replicas after it.
 */
export async function ensureDataset(
  rucio: RucioClient,
  settings: Pick<RunSettings, 'scope' | 'dataset' | 'rse'>,
  options: { replicateTo?: string | undefined; lifetimeSeconds?: number | undefined } = {},
): Promise<void> {
  const dids = [{ scope: settings.scope, name: settings.dataset }];
  const lifetime = options.lifetimeSeconds;
  const rule = (rseExpression: string): RuleRequest => ({ dids, copies: 1, rseExpression, grouping: 'DATASET', ...definedProps({ lifetime }) });
  const rules = [rule(settings.rse)];
  if (options.replicateTo !== undefined) rules.push(rule(options.replicateTo));
  await rucio.addDataset(settings.scope, settings.dataset, { rules, meta: { [datasetMarker.key]: datasetMarker.value }, ...definedProps({ lifetime }) });
}

/**
 * The run-defining flags a user gave again with --resume (each only when given on the command line):
 * the run's settings come from Redis, and these must agree with them.
 */
export interface ResumeFlags {
  source?: string;
  order?: string;
  seed?: number;
  /** Milliseconds. */
  startOffset?: number;
  sampleRate?: number;
  detector?: string;
  periodMs?: number;
  rateFactor?: number;
  asFastAsPossible?: boolean;
  count?: number;
  durationMs?: number;
  startAt?: number;
  alignGps?: boolean;
  latePolicy?: string;
  gapPolicy?: string;
  scope?: string;
  dataset?: string;
  rse?: string;
  tag?: string;
  runId?: string;
  logDir?: string;
}

/** How each flag reads in the run's settings, and under which name the user typed it. */
const resumeChecks: { [K in keyof ResumeFlags]-?: { flag: string; of: (settings: RunSettings) => unknown } } = {
  source: { flag: '--source', of: (s) => (s.source.kind === 'synthetic' ? 'synthetic' : s.source.path) },
  order: { flag: '--order', of: (s) => s.source.order ?? 'sequential' },
  seed: { flag: '--seed', of: (s) => s.source.seed },
  startOffset: { flag: '--start-offset', of: (s) => (typeof s.source.startOffset === 'number' ? s.source.startOffset * 1000 : 0) },
  sampleRate: { flag: '--sample-rate', of: (s) => s.source.sampleRate },
  detector: { flag: '--detector', of: (s) => s.source.detector },
  periodMs: { flag: '--period', of: (s) => s.periodMs },
  rateFactor: { flag: '--rate-factor', of: (s) => s.rateFactor },
  asFastAsPossible: { flag: '--as-fast-as-possible', of: (s) => s.intervalMs === 0 },
  count: { flag: '--count', of: (s) => s.count },
  durationMs: { flag: '--duration', of: (s) => (s.count === undefined ? undefined : s.count * s.periodMs) },
  startAt: { flag: '--start-at', of: (s) => s.t0 },
  // Whether chunk 0 was put on a whole GPS second is not kept: only "not given" agrees.
  alignGps: { flag: '--align-gps', of: () => undefined },
  latePolicy: { flag: '--late', of: (s) => s.latePolicy },
  gapPolicy: { flag: '--on-gap', of: (s) => s.gapPolicy },
  scope: { flag: '--scope', of: (s) => s.scope },
  dataset: { flag: '--dataset', of: (s) => s.dataset },
  rse: { flag: '--rse', of: (s) => s.rse },
  tag: { flag: '--tag', of: (s) => s.tag },
  runId: { flag: '--run-id', of: (s) => s.runId },
  logDir: { flag: '--log-dir', of: (s) => s.logDir },
};

/** "--rse LAKE_POSIX (the run's: LAKE_S3)" for every flag given again that disagrees with the run's settings. */
export function resumeConflicts(settings: RunSettings, given: ResumeFlags): string[] {
  const conflicts: string[] = [];
  for (const key of Object.keys(resumeChecks) as (keyof ResumeFlags)[]) {
    const value = given[key];
    if (value === undefined) continue;
    const check = resumeChecks[key];
    const theirs = check.of(settings);
    // --duration: any duration giving the run's number of whole chunks agrees.
    const same = key === 'durationMs' ? chunkCount({ durationMs: value as number }, settings.periodMs) === settings.count : value === theirs;
    if (!same) conflicts.push(`${check.flag} ${String(value)} (the run's: ${theirs === undefined ? 'not recorded' : JSON.stringify(theirs).replace(/^"(.*)"$/, '$1')})`);
  }
  return conflicts;
}
