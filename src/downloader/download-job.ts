import { randomBytes } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { InputError } from '../common/errors.js';
import type { CorruptRead, ReplicaRecord } from '../rucio/index.js';

/**
 * Each downloader has a queue of its own (its worker processes serve only it), so two downloaders on
 * one Redis never take or delete each other's jobs.
 */
export function newDownloadQueueName(scope: string, dataset: string): string {
  return `wavefier-download-${scope}-${dataset}-${process.pid}${randomBytes(3).toString('hex')}`;
}

const replicaSchema = z.object({
  scope: z.string(),
  name: z.string(),
  bytes: z.number().int().nonnegative(),
  adler32: z.string(),
  md5: z.string().optional(),
  pfns: z.array(z.object({ pfn: z.string(), rse: z.string(), priority: z.number(), domain: z.string() })),
  states: z.record(z.string(), z.string()),
});

/** One chunk to fetch and verify; everything a worker process needs, validated when read from Redis. */
const downloadJobSchema = z.object({
  v: z.literal(1),
  /** The download run (its log folder): a worker notes its retries in `<log dir>/<run>/`. */
  run: z.string(),
  scope: z.string(),
  dataset: z.string(),
  name: z.string(),
  replica: replicaSchema,
  tDetected: z.number(),
  /** Where verified files go (absent with --keep none). */
  destDir: z.string().optional(),
  relativeName: z.string(),
  /** How many times this chunk was found corrupted before this job. */
  corruptions: z.number().int().nonnegative(),
});
export type DownloadJob = z.infer<typeof downloadJobSchema>;

/** A read whose bytes did not match the catalog: every one is logged, also when a later read was good. */
export interface CorruptReadRecord extends CorruptRead {
  /** When it was read (epoch ms). */
  tRead: number;
}

/** What every outcome carries: the corrupted reads of the job, and the chunk's identity when it decoded. */
interface OutcomeBase {
  replicaAttempts: number;
  tDownloaded: number;
  corruptReads: CorruptReadRecord[];
  run?: string;
  seq?: number;
  tAvail?: number;
}

export interface VerifiedOutcome extends OutcomeBase {
  status: 'verified';
  bytes: number;
  adler32: string;
  md5: string;
  pfn: string;
  rse: string;
  tVerified: number;
  /** The bytes match the catalog but are not a wavefier chunk (no run, no seq). */
  foreign?: boolean;
  path?: string;
}

/** Every read of the job was corrupted (the checksums differ from the catalog's). */
export interface CorruptedOutcome extends OutcomeBase {
  status: 'corrupted';
  expectedAdler32?: string;
  expectedMd5?: string;
  expectedBytes: number;
  reason: string;
}

/** The bytes match the catalog but are not a valid chunk: a content error, not retried. */
export interface InvalidOutcome extends OutcomeBase {
  status: 'invalid';
  bytes: number;
  adler32: string;
  md5: string;
  pfn: string;
  rse: string;
  reason: string;
}

/** What a worker finds out about a chunk whose job it could run to the end. */
export type ChunkOutcome = VerifiedOutcome | CorruptedOutcome | InvalidOutcome;

/** A worker's answer to a job: the outcome and which job it answers (the chunk, its corruption round, the attempt). */
export type WorkerAnswer = ChunkOutcome & { name: string; corruptions: number; attempt: number };

const answerIdentity = { name: z.string(), corruptions: z.number().int().nonnegative(), attempt: z.number().int().positive() };
const corruptReadSchema = z.object({
  attempt: z.number().int().positive(),
  pfn: z.string(),
  rse: z.string(),
  adler32: z.string(),
  md5: z.string(),
  bytes: z.number().int().nonnegative(),
  tRead: z.number(),
});
const answerBase = {
  ...answerIdentity,
  run: z.string().optional(),
  seq: z.number().int().nonnegative().optional(),
  tAvail: z.number().optional(),
  replicaAttempts: z.number().int().nonnegative(),
  tDownloaded: z.number(),
  corruptReads: z.array(corruptReadSchema),
};
const readFields = { bytes: z.number().int().nonnegative(), adler32: z.string(), md5: z.string(), pfn: z.string(), rse: z.string() };
const workerAnswerSchema = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('verified'),
    ...answerBase,
    ...readFields,
    tVerified: z.number(),
    foreign: z.boolean().optional(),
    path: z.string().optional(),
  }),
  z.object({
    status: z.literal('corrupted'),
    ...answerBase,
    expectedAdler32: z.string().optional(),
    expectedMd5: z.string().optional(),
    expectedBytes: z.number().int().nonnegative(),
    reason: z.string(),
  }),
  z.object({
    status: z.literal('invalid'),
    ...answerBase,
    ...readFields,
    reason: z.string(),
  }),
]);

/** A worker's answer as read back from Redis (it may come from a worker process on another host). */
export function parseWorkerAnswer(value: unknown): WorkerAnswer {
  const parsed = workerAnswerSchema.safeParse(value);
  if (!parsed.success) {
    throw new InputError(`malformed answer from a download worker: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  }
  return parsed.data as WorkerAnswer;
}

export function downloadJobId(scope: string, name: string, corruptions: number): string {
  // BullMQ job ids may not contain ':'; DID names cannot contain it either.
  return `dl-${scope}-${name}-${corruptions}`;
}

export function parseDownloadJob(data: unknown): DownloadJob {
  const parsed = downloadJobSchema.safeParse(data);
  if (!parsed.success) {
    throw new InputError(`malformed download job: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  }
  return parsed.data;
}

/** What every job of one download run shares. */
export interface JobSettings {
  /** The download run (its log folder name). */
  run: string;
  scope: string;
  dataset: string;
  /** Files go to `<dest>/<dataset>/<name>` rather than `<dest>/<name>`. */
  subdir: boolean;
  keep: 'all' | 'none';
  dest?: string;
  /** Attempts per job for transient failures (BullMQ retries them with exponential back-off). */
  attempts: number;
}

/** Where a file of this name goes under --dest (checked by the worker before anything is written). */
export function localRelativePath(settings: Pick<JobSettings, 'subdir' | 'dataset'>, name: string): string {
  return settings.subdir ? `${settings.dataset}/${name}` : name;
}

/** The job that fetches and verifies one replica; `corruptions` says how often it was found corrupted before. */
export function downloadJobFor(settings: JobSettings, replica: ReplicaRecord, tDetected: number, corruptions: number): DownloadJob {
  // Joined as text: path.join would resolve a name's `..` (ds/a/../b → ds/b) before it is checked.
  const relativeName = localRelativePath(settings, replica.name);
  return {
    v: 1,
    run: settings.run,
    scope: settings.scope,
    dataset: settings.dataset,
    name: replica.name,
    replica,
    tDetected,
    ...(settings.keep === 'all' && settings.dest !== undefined ? { destDir: settings.dest } : {}),
    relativeName,
    corruptions,
  };
}

/** The first back-off of a chunk whose attempt failed for a transient reason; it doubles at each attempt. */
const transientRetryBackoffMs = 500;

/** The back-off after failed attempt `attempt` (from 1): BullMQ's exponential back-off of the queue's jobs, 500 ms, 1 s, 2 s... */
export function transientRetryDelayMs(attempt: number): number {
  return Math.round(2 ** (attempt - 1) * transientRetryBackoffMs);
}

/**
 * The job id names the chunk and its corruption round, so the lost-job watchdog can find the job in
 * Redis from the chunk alone; finished jobs are removed at once, since the download log is the record.
 */
export function downloadJobOptions(settings: JobSettings, name: string, corruptions: number, delayMs: number): JobsOptions {
  return {
    jobId: downloadJobId(settings.scope, name, corruptions),
    attempts: settings.attempts,
    backoff: { type: 'exponential', delay: transientRetryBackoffMs },
    delay: delayMs,
    removeOnComplete: true,
    removeOnFail: true,
  };
}
