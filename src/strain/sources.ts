import { z } from 'zod';
import { UsageError } from '../common/errors.js';
import type { Chunk, ChunkSource, RunTimeline, SourceSpec } from './chunk.js';
import { drawIndex } from './prng.js';
import { openStrainFileSync, type StrainFile } from './strain-file.js';
import { ColouredNoise } from './synthetic-noise.js';

const seedSchema = z.number().int().min(0).max(2 ** 32 - 1);
const detectorSchema = z.string().regex(/^[A-Z][A-Z0-9]$/, 'a detector code such as H1, L1 or V1');

const sourceSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('file'),
    path: z.string().min(1),
    order: z.enum(['sequential', 'random']),
    startOffset: z.number().int().min(0).optional(),
    seed: seedSchema.optional(),
  }),
  z.strictObject({
    kind: z.literal('synthetic'),
    sampleRate: z.number().int().min(16).max(1_048_576),
    seed: seedSchema,
    detector: detectorSchema.optional(),
  }),
]);

const runSchema = z.strictObject({
  runId: z.string().min(1),
  gpsStart: z.number().int().min(0),
  duration: z.number().int().min(1).max(4096).optional(),
});

/**
 * Opens a chunk source. The returned `description` is the spec with every default filled in, so
 * storing it is enough to rebuild the identical source when a run resumes.
 */
export function openSource(spec: SourceSpec, run: RunTimeline): Promise<ChunkSource> {
  try {
    return Promise.resolve(openSourceSync(spec, run));
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function openSourceSync(spec: SourceSpec, run: RunTimeline): ChunkSource {
  const parsedSpec = sourceSpecSchema.safeParse(spec);
  if (!parsedSpec.success) throw new UsageError(`invalid strain source: ${z.prettifyError(parsedSpec.error).replace(/\n/g, '; ')}`);
  const parsedRun = runSchema.safeParse(run);
  if (!parsedRun.success) throw new UsageError(`invalid run timeline: ${z.prettifyError(parsedRun.error).replace(/\n/g, '; ')}`);
  const timeline = { runId: parsedRun.data.runId, gpsStart: parsedRun.data.gpsStart, duration: parsedRun.data.duration ?? 1 };
  const valid = parsedSpec.data;
  if (valid.kind === 'synthetic') {
    return new SyntheticSource(
      { kind: 'synthetic', sampleRate: valid.sampleRate, seed: valid.seed, detector: valid.detector ?? 'H1' },
      timeline,
    );
  }
  const file = openStrainFileSync(valid.path);
  try {
    return new FileSource(
      {
        kind: 'file',
        path: valid.path,
        order: valid.order,
        startOffset: valid.startOffset ?? 0,
        ...(valid.order === 'random' ? { seed: valid.seed ?? 0 } : valid.seed === undefined ? {} : { seed: valid.seed }),
      },
      timeline,
      file,
    );
  } catch (error) {
    file.close();
    throw error;
  }
}

interface Timeline {
  runId: string;
  gpsStart: number;
  duration: number;
}

function checkSeq(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new UsageError(`chunk sequence number ${seq} must be a non-negative integer`);
}

class FileSource implements ChunkSource {
  readonly sampleRate: number;
  readonly detector: string;
  private readonly slices: number;
  private readonly firstSlice: number;
  private readonly samplesPerChunk: number;

  constructor(
    readonly description: Extract<SourceSpec, { kind: 'file' }>,
    private readonly run: Timeline,
    private readonly file: StrainFile,
  ) {
    const info = file.info;
    this.sampleRate = info.sampleRate;
    this.detector = info.detector;
    this.samplesPerChunk = run.duration * info.sampleRate;
    this.slices = Math.floor(info.sampleCount / this.samplesPerChunk);
    if (this.slices < 1) {
      throw new UsageError(`${info.path}: holds ${info.duration} s of data, less than one ${run.duration} s chunk`);
    }
    const offset = description.startOffset ?? 0;
    if (offset % run.duration !== 0 || offset >= this.slices * run.duration) {
      throw new UsageError(
        `start offset ${offset} s is not a multiple of the ${run.duration} s chunk duration inside the ${this.slices * run.duration} s of ${info.file}`,
      );
    }
    this.firstSlice = offset / run.duration;
  }

  /** Slice index in the file for `seq`: sequential wraps around at the end; random is drawn from (seed, seq). */
  sliceFor(seq: number): number {
    if (this.description.order === 'random') return drawIndex(this.description.seed ?? 0, seq, this.slices);
    return (this.firstSlice + seq) % this.slices;
  }

  chunk(seq: number): Chunk {
    checkSeq(seq);
    const info = this.file.info;
    const slice = this.sliceFor(seq);
    const samples = this.file.readSlice(slice * this.samplesPerChunk, this.samplesPerChunk);
    const sourceOffset = slice * this.run.duration;
    const dq = info.dq;
    const dqMask =
      dq !== undefined && dq.spacing === 1 && dq.mask.length >= sourceOffset + this.run.duration
        ? dq.mask.slice(sourceOffset, sourceOffset + this.run.duration)
        : undefined;
    return {
      runId: this.run.runId,
      seq,
      gpsStart: this.run.gpsStart + seq * this.run.duration,
      duration: this.run.duration,
      sampleRate: this.sampleRate,
      samples,
      detector: info.detector,
      observatory: info.observatory,
      source: { kind: 'file', file: info.file, gpsStart: info.gpsStart + sourceOffset },
      ...(dqMask === undefined ? {} : { dqMask }),
    };
  }

  close(): void {
    this.file.close();
  }
}

class SyntheticSource implements ChunkSource {
  readonly sampleRate: number;
  readonly detector: string;
  private readonly noise: ColouredNoise;

  constructor(
    readonly description: Extract<SourceSpec, { kind: 'synthetic' }>,
    private readonly run: Timeline,
  ) {
    this.sampleRate = description.sampleRate;
    this.detector = description.detector ?? 'H1';
    this.noise = new ColouredNoise(description.sampleRate, description.seed);
  }

  chunk(seq: number): Chunk {
    checkSeq(seq);
    const gpsStart = this.run.gpsStart + seq * this.run.duration;
    return {
      runId: this.run.runId,
      seq,
      gpsStart,
      duration: this.run.duration,
      sampleRate: this.sampleRate,
      samples: this.noise.generate(seq, this.run.duration * this.sampleRate),
      detector: this.detector,
      observatory: this.detector.slice(0, 1),
      source: { kind: 'synthetic', gpsStart },
    };
  }

  close(): void {
    // Nothing to release: the stream is computed.
  }
}
