import { join } from 'node:path';
import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { InputError } from '../common/errors.js';
import type { ReplicaRecord } from '../rucio/index.js';

/**
 * Each downloader has a queue of its own (its worker processes serve only it), so two downloaders on
 * one Redis never take or delete each other's jobs.
 */
export function downloadQueueName(scope: string, dataset: string, instance: string): string {
  return `wavefier-download-${scope}-${dataset}-${instance}`;
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

export interface VerifiedOutcome {
  status: 'verified';
  bytes: number;
  adler32: string;
  md5: string;
  pfn: string;
  rse: string;
  replicaAttempts: number;
  tDownloaded: number;
  tVerified: number;
  run?: string;
  seq?: number;
  tAvail?: number;
  path?: string;
}

export interface CorruptedOutcome {
  status: 'corrupted';
  bytes: number;
  adler32?: string;
  md5?: string;
  expectedAdler32?: string;
  expectedMd5?: string;
  pfn?: string;
  rse?: string;
  replicaAttempts: number;
  tDownloaded: number;
  reason: string;
  run?: string;
  seq?: number;
  tAvail?: number;
}

/** What a worker finds out about a chunk whose job it could run to the end. */
export type ChunkOutcome = VerifiedOutcome | CorruptedOutcome;

/** A worker's answer to a job: the outcome and which job it answers (the chunk, its corruption round, the attempt). */
export type WorkerAnswer = ChunkOutcome & { name: string; corruptions: number; attempt: number };

const answerIdentity = { name: z.string(), corruptions: z.number().int().nonnegative(), attempt: z.number().int().positive() };
const answerOrigin = { run: z.string().optional(), seq: z.number().int().nonnegative().optional(), tAvail: z.number().optional() };
const workerAnswerSchema = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('verified'),
    ...answerIdentity,
    ...answerOrigin,
    bytes: z.number().int().nonnegative(),
    adler32: z.string(),
    md5: z.string(),
    pfn: z.string(),
    rse: z.string(),
    replicaAttempts: z.number().int().nonnegative(),
    tDownloaded: z.number(),
    tVerified: z.number(),
    path: z.string().optional(),
  }),
  z.object({
    status: z.literal('corrupted'),
    ...answerIdentity,
    ...answerOrigin,
    bytes: z.number().int().nonnegative(),
    adler32: z.string().optional(),
    md5: z.string().optional(),
    expectedAdler32: z.string().optional(),
    expectedMd5: z.string().optional(),
    pfn: z.string().optional(),
    rse: z.string().optional(),
    replicaAttempts: z.number().int().nonnegative(),
    tDownloaded: z.number(),
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

/** The job that fetches and verifies one replica; `corruptions` says how often it was found corrupted before. */
export function downloadJobFor(settings: JobSettings, replica: ReplicaRecord, tDetected: number, corruptions: number): DownloadJob {
  const relativeName = settings.subdir ? join(settings.dataset, replica.name) : replica.name;
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

/**
 * The job id names the chunk and its corruption round, so the lost-job watchdog can find the job in
 * Redis from the chunk alone; finished jobs are removed at once, since the download log is the record.
 */
export function downloadJobOptions(settings: JobSettings, name: string, corruptions: number, delayMs: number): JobsOptions {
  return {
    jobId: downloadJobId(settings.scope, name, corruptions),
    attempts: settings.attempts,
    backoff: { type: 'exponential', delay: 500 },
    delay: delayMs,
    removeOnComplete: true,
    removeOnFail: true,
  };
}
