import { z } from 'zod';
import { definedProps } from '../common/defined.js';
import { InputError } from '../common/errors.js';
import type { Chunk } from '../strain/index.js';

/**
 * Each run has its own BullMQ queue, so that two runs sharing a Redis never take each other's
 * chunks; `upload-worker` processes on other hosts follow the runs that are active (RunState).
 */
export function uploadQueueName(run: string): string {
  return `wavefier-upload-${run}`;
}

/**
 * Everything a worker needs to encode and upload one chunk; its samples wait beside the job in the
 * run state (RunState.putSamples), so that workers on other hosts never need the source file.
 * Validated when read back from Redis (another process, maybe another version of wavefier, wrote it;
 * version 1 jobs carried the samples inline).
 */
const uploadJobSchema = z.object({
  v: z.literal(2),
  run: z.string().min(1),
  seq: z.number().int().nonnegative(),
  name: z.string().min(1),
  gps: z.number().int(),
  scope: z.string().min(1),
  dataset: z.string().min(1),
  rse: z.string().min(1),
  tag: z.string().min(1),
  uploadMode: z.enum(['fast', 'rucio-compatible']).optional(),
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
  }),
});
export type UploadJob = z.infer<typeof uploadJobSchema>;

/** Deterministic: the same chunk of the same run always maps to the same job (BullMQ ignores re-adds). */
export function uploadJobId(run: string, seq: number): string {
  // BullMQ forbids ':' and all-digit custom ids; run ids contain letters and no ':'.
  return `${run}-${seq}`;
}

export function parseUploadJob(data: unknown): UploadJob {
  const parsed = uploadJobSchema.safeParse(data);
  if (!parsed.success) {
    throw new InputError(`malformed upload job: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  }
  return parsed.data;
}

/** The chunk's description as a job carries it: everything but the samples, which wait in the run state. */
export function jobChunk(chunk: Chunk): UploadJob['chunk'] {
  return {
    duration: chunk.duration,
    sampleRate: chunk.sampleRate,
    detector: chunk.detector,
    observatory: chunk.observatory,
    sourceKind: chunk.source.kind,
    ...definedProps({ sourceFile: chunk.source.file }),
    sourceGps: chunk.source.gpsStart,
    ...definedProps({ dqMask: chunk.dqMask }),
  };
}

/** The chunk again, from a job and its samples: what jobChunk took apart. */
export function chunkOf(data: UploadJob, samples: Float64Array): Chunk {
  const { chunk } = data;
  return {
    runId: data.run,
    seq: data.seq,
    gpsStart: data.gps,
    duration: chunk.duration,
    sampleRate: chunk.sampleRate,
    samples,
    detector: chunk.detector,
    observatory: chunk.observatory,
    source: {
      kind: chunk.sourceKind,
      ...definedProps({ file: chunk.sourceFile }),
      gpsStart: chunk.sourceGps,
    },
    ...definedProps({ dqMask: chunk.dqMask }),
  };
}
