import { resolve } from 'node:path';
import { definedProps } from '../common/defined.js';
import { UsageError } from '../common/errors.js';
import type { Chunk, ChunkSource, RunTimeline, SourceSpec } from './chunk.js';
import { noteTransientBytes } from './memory-governor.js';
import { failedDqSeconds, requiredDqBits } from './data-quality.js';
import { Decimator } from './decimate.js';
import { drawIndex } from './prng.js';
import { openStrainFileSync, type StrainFile } from './strain-file.js';
import { ColouredNoise } from './synthetic-noise.js';

// Explicit checks rather than zod: this module runs inside every upload worker, and zod's ~14 MB
// of resident memory is a seventh of a reader's 100 MB budget.
function invalid(what: string, problem: string): UsageError {
  return new UsageError(`invalid ${what}: ${problem}`);
}

function show(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(record: Record<string, unknown>, allowed: readonly string[], what: string): void {
  const extra = Object.keys(record).filter((key) => !allowed.includes(key));
  if (extra.length > 0) throw invalid(what, `unknown field(s) ${extra.join(', ')} (allowed: ${allowed.join(', ')})`);
}

function integerIn(record: Record<string, unknown>, key: string, min: number, max: number, what: string, optional: true): number | undefined;
function integerIn(record: Record<string, unknown>, key: string, min: number, max: number, what: string, optional?: false): number;
function integerIn(record: Record<string, unknown>, key: string, min: number, max: number, what: string, optional = false): number | undefined {
  const value = record[key];
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(what, `${key} must be an integer from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

function parseSpec(spec: unknown): SourceSpec {
  const what = 'strain source';
  if (!isRecord(spec)) throw invalid(what, 'expected an object with a kind');
  if (spec.kind === 'synthetic') {
    checkKeys(spec, ['kind', 'sampleRate', 'seed', 'detector'], what);
    const detector = spec.detector;
    if (detector !== undefined && (typeof detector !== 'string' || !/^[A-Z][A-Z0-9]$/.test(detector))) {
      throw invalid(what, `detector must be a detector code such as H1, L1 or V1, got ${show(detector)}`);
    }
    return {
      kind: 'synthetic',
      sampleRate: integerIn(spec, 'sampleRate', 16, 1_048_576, what),
      seed: integerIn(spec, 'seed', 0, 2 ** 32 - 1, what),
      ...definedProps({ detector }),
    };
  }
  if (spec.kind === 'file') {
    checkKeys(spec, ['kind', 'path', 'order', 'startOffset', 'seed', 'resample'], what);
    if (typeof spec.path !== 'string' || spec.path === '') throw invalid(what, 'path must be a non-empty string');
    if (spec.order !== 'sequential' && spec.order !== 'random') {
      throw invalid(what, `order must be sequential or random, got ${show(spec.order)}`);
    }
    const startOffset = integerIn(spec, 'startOffset', 0, Number.MAX_SAFE_INTEGER, what, true);
    const seed = integerIn(spec, 'seed', 0, 2 ** 32 - 1, what, true);
    const resample = integerIn(spec, 'resample', 16, 1_048_576, what, true);
    return {
      kind: 'file',
      path: spec.path,
      order: spec.order,
      ...definedProps({ startOffset, seed, resample }),
    };
  }
  throw invalid(what, `kind must be file or synthetic, got ${show(spec.kind)}`);
}

function parseRun(run: unknown): Timeline {
  const what = 'run timeline';
  if (!isRecord(run)) throw invalid(what, 'expected an object with runId and gpsStart');
  checkKeys(run, ['runId', 'gpsStart', 'duration'], what);
  if (typeof run.runId !== 'string' || run.runId === '') throw invalid(what, 'runId must be a non-empty string');
  return {
    runId: run.runId,
    gpsStart: integerIn(run, 'gpsStart', 0, Number.MAX_SAFE_INTEGER, what),
    duration: integerIn(run, 'duration', 1, 4096, what, true) ?? 1,
  };
}

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
  const timeline = parseRun(run);
  const valid = parseSpec(spec);
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
        // Absolute, so that a run resumed from another working directory finds the same file.
        path: resolve(valid.path),
        order: valid.order,
        startOffset: valid.startOffset ?? 0,
        ...(valid.order === 'random' ? { seed: valid.seed ?? 0 } : valid.seed === undefined ? {} : { seed: valid.seed }),
        ...definedProps({ resample: valid.resample }),
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

/**
 * Files whose samples fit in this many bytes are read once and sliced in memory: a replay loops
 * over a 32 s event file hundreds of times, and each hyperslab read of a deflated, Fletcher32-checked
 * file costs ~0.5 ms. Bulk files (4096 s = 128 MiB) are streamed slice by slice.
 */
const preloadLimitBytes = 8 * 1024 * 1024;

/** The decimator from the file's rate to the one asked for: none when they are equal; only whole factors. */
function decimatorFor(sourceRate: number, rate: number, file: string): Decimator | undefined {
  if (rate === sourceRate) return undefined;
  if (rate > sourceRate || sourceRate % rate !== 0) {
    throw new UsageError(
      `cannot resample ${file} from ${sourceRate} Hz to ${rate} Hz: only a whole division of the file's rate is supported (e.g. ${sourceRate / 4} Hz for 1/4)`,
    );
  }
  return new Decimator(sourceRate / rate);
}

class FileSource implements ChunkSource {
  readonly sampleRate: number;
  readonly sourceRate: number;
  readonly detector: string;
  /** The chunk's samples, decimated when --resample asks for a lower rate. */
  private readonly preloaded: Float64Array | undefined;
  private readonly slices: number;
  private readonly firstSlice: number;
  /** Per chunk: samples read from the file, and samples in the chunk (fewer when decimated). */
  private readonly samplesPerSlice: number;
  private readonly samplesPerChunk: number;
  private readonly decimator: Decimator | undefined;

  constructor(
    readonly description: Extract<SourceSpec, { kind: 'file' }>,
    private readonly run: Timeline,
    private readonly file: StrainFile,
  ) {
    const info = file.info;
    this.sourceRate = info.sampleRate;
    this.sampleRate = description.resample ?? info.sampleRate;
    this.decimator = decimatorFor(info.sampleRate, this.sampleRate, info.file);
    this.detector = info.detector;
    this.samplesPerSlice = run.duration * info.sampleRate;
    this.samplesPerChunk = run.duration * this.sampleRate;
    this.slices = Math.floor(info.sampleCount / this.samplesPerSlice);
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
    const usable = this.slices * this.samplesPerSlice;
    if (info.sampleCount * 8 > preloadLimitBytes) this.preloaded = undefined;
    else if (this.decimator === undefined) this.preloaded = file.readSlice(0, usable);
    else {
      const whole = file.readSlice(0, info.sampleCount);
      this.preloaded = this.decimator.decimate((offset, count) => whole.subarray(offset, offset + count), info.sampleCount, 0, usable);
    }
  }

  /** Distinct chunks the file holds: a sequential replay starts over after this many. */
  get distinctChunks(): number {
    return this.slices;
  }

  /** The first seq of a sequential replay that reads the file from its start again. */
  get wrapsAt(): number {
    return this.slices - this.firstSlice;
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
    const first = slice * this.samplesPerChunk;
    let samples: Float64Array;
    if (this.preloaded) {
      samples = this.preloaded.slice(first, first + this.samplesPerChunk);
      noteTransientBytes(samples.byteLength);
    } else if (this.decimator === undefined) {
      samples = this.file.readSlice(first, this.samplesPerChunk);
    } else {
      samples = this.decimator.decimate((offset, count) => this.file.readSlice(offset, count), info.sampleCount, slice * this.samplesPerSlice, this.samplesPerSlice);
    }
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
      ...(dqMask === undefined || dq === undefined ? {} : { dqMask, dqFailedSeconds: failedDqSeconds(dqMask, requiredDqBits(dq)) }),
    };
  }

  close(): void {
    this.file.close();
  }
}

class SyntheticSource implements ChunkSource {
  readonly sampleRate: number;
  readonly sourceRate: number;
  readonly detector: string;
  private readonly noise: ColouredNoise;

  constructor(
    readonly description: Extract<SourceSpec, { kind: 'synthetic' }>,
    private readonly run: Timeline,
  ) {
    this.sampleRate = description.sampleRate;
    this.sourceRate = description.sampleRate;
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
