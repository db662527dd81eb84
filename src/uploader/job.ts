import { z } from 'zod';
import { InputError } from '../common/errors.js';

/**
 * Each run has its own BullMQ queue, so that two runs sharing a Redis never take each other's
 * chunks; `upload-worker` processes on other hosts follow the runs that are active (RunState).
 */
export function uploadQueueName(run: string): string {
  return `wavefier-upload-${run}`;
}

/**
 * Everything a worker needs to encode and upload one chunk, including its samples, so that workers
 * on other hosts never need the source file. Validated when read back from Redis (another process,
 * maybe another version of wavefier, wrote it).
 */
export const uploadJobSchema = z.object({
  v: z.literal(1),
  run: z.string().min(1),
  seq: z.number().int().nonnegative(),
  name: z.string().min(1),
  gps: z.number().int(),
  scope: z.string().min(1),
  dataset: z.string().min(1),
  rse: z.string().min(1),
  tag: z.string().min(1),
  tAvail: z.number(),
  tEnqueued: z.number(),
  late: z.boolean(),
  chunk: z.object({
    duration: z.number().positive(),
    sampleRate: z.number().positive(),
    detector: z.string(),
    observatory: z.string(),
    sourceKind: z.enum(['file', 'synthetic']),
    sourceFile: z.string().optional(),
    sourceGps: z.number(),
    dqMask: z.array(z.number().int()).optional(),
    /** Little-endian float64 samples, base64. */
    samples: z.string(),
  }),
});
export type UploadJob = z.infer<typeof uploadJobSchema>;

/** Deterministic: the same chunk of the same run always maps to the same job (BullMQ ignores re-adds). */
export function uploadJobId(run: string, seq: number): string {
  // BullMQ forbids ':' and all-digit custom ids; run ids contain letters and no ':'.
  return `${run}-${seq}`;
}

export function encodeSamples(samples: Float64Array): string {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength).toString('base64');
}

export function decodeSamples(base64: string, expectedCount: number): Float64Array {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.byteLength !== expectedCount * 8) {
    throw new InputError(`upload job carries ${bytes.byteLength} bytes of samples, expected ${expectedCount * 8}`);
  }
  // Copy into an aligned buffer: Buffer slices from the pool are not 8-byte aligned.
  const samples = new Float64Array(expectedCount);
  new Uint8Array(samples.buffer).set(bytes);
  return samples;
}

export function parseUploadJob(data: unknown): UploadJob {
  const parsed = uploadJobSchema.safeParse(data);
  if (!parsed.success) {
    throw new InputError(`malformed upload job: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  }
  return parsed.data;
}
