import { z } from 'zod';
import { InputError } from '../common/errors.js';

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
export const downloadJobSchema = z.object({
  v: z.literal(1),
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

/** Jobs of this name only make BullMQ start a worker process ahead of the first chunk. */
export const warmupJobName = 'warmup';

/** What a worker process answers for a job it could run to the end. */
export type DownloadOutcome =
  | { status: 'warmup' }
  | {
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
  | {
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
    };

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
