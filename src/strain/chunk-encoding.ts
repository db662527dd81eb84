import { definedProps } from '../common/defined.js';
import { UsageError } from '../common/errors.js';
import { gpsToUnixMs } from '../common/gps.js';
import type { Chunk } from './chunk.js';
import { patch, templateFor, utcLength, type ShapeFields, type ValueFields } from './chunk-template.js';
import { noteTransientBytes } from './memory-governor.js';

export interface EncodeExtra {
  /** Epoch milliseconds when the chunk's data was complete (DESIGN §1). */
  tAvail: number;
  /** Only used for names; accepted here so callers can pass one options object. */
  tag?: string;
}

/** HDF5 bytes of one chunk. Deterministic: the same chunk and tAvail always give the same bytes. */
export function encodeChunk(chunk: Chunk, extra: EncodeExtra): Uint8Array {
  const shape = chunkShape(chunk);
  const values = valuesOf(chunk, extra);
  const template = templateFor(shape);
  const bytes = patch(template, values);
  noteTransientBytes(bytes.byteLength);
  return bytes;
}

/**
 * What a chunk has in common with every other chunk of its run (its HDF5 bytes differ only in the
 * per-chunk fields); a UsageError saying what is wrong with a chunk that cannot be encoded.
 */
export function chunkShape(chunk: Chunk): ShapeFields {
  if (!Number.isSafeInteger(chunk.duration) || chunk.duration <= 0) {
    throw new UsageError(`chunk ${chunk.seq}: duration ${chunk.duration} must be a positive whole number of seconds`);
  }
  if (!Number.isSafeInteger(chunk.sampleRate) || chunk.sampleRate <= 0) {
    throw new UsageError(`chunk ${chunk.seq}: sample rate ${chunk.sampleRate} must be a positive whole number of Hz`);
  }
  const expected = chunk.duration * chunk.sampleRate;
  if (chunk.samples.length !== expected) {
    throw new UsageError(`chunk ${chunk.seq}: ${chunk.samples.length} samples, expected ${expected} (${chunk.duration} s at ${chunk.sampleRate} Hz)`);
  }
  if (chunk.dqMask !== undefined && chunk.dqMask.length !== chunk.duration) {
    throw new UsageError(`chunk ${chunk.seq}: ${chunk.dqMask.length} DQ values, expected one per second (${chunk.duration})`);
  }
  if (chunk.runId === '' || chunk.detector === '' || chunk.observatory === '') {
    throw new UsageError(`chunk ${chunk.seq}: run id, detector and observatory must not be empty`);
  }
  return {
    runId: chunk.runId,
    duration: chunk.duration,
    sampleRate: chunk.sampleRate,
    detector: chunk.detector,
    observatory: chunk.observatory,
    sourceKind: chunk.source.kind,
    sourceFile: chunk.source.file,
    hasDq: chunk.dqMask !== undefined,
  };
}

/** The most common chunk shape (1 s at 4096 Hz from H1, synthetic, no DQ), for warm-ups that have no chunk of their run at hand. */
export function commonChunkShape(runId: string): ShapeFields {
  return { runId, duration: 1, sampleRate: 4096, detector: 'H1', observatory: 'H', sourceKind: 'synthetic', sourceFile: undefined, hasDq: false };
}

/**
 * Chunk 0 of `shape`, at GPS `gpsStart`, with every sample (and DQ value) zero: what a warm-up
 * encodes, decodes and checksums to run a real chunk's code without a real chunk.
 */
export function silentChunk(shape: ShapeFields, gpsStart = 1_000_000_000): Chunk {
  return {
    runId: shape.runId,
    seq: 0,
    gpsStart,
    duration: shape.duration,
    sampleRate: shape.sampleRate,
    samples: new Float64Array(shape.duration * shape.sampleRate),
    detector: shape.detector,
    observatory: shape.observatory,
    source: { kind: shape.sourceKind, gpsStart, ...definedProps({ file: shape.sourceFile }) },
    ...(shape.hasDq ? { dqMask: new Array<number>(shape.duration).fill(0) } : {}),
  };
}

function valuesOf(chunk: Chunk, extra: EncodeExtra): ValueFields {
  if (!Number.isSafeInteger(chunk.seq) || chunk.seq < 0) throw new UsageError(`chunk sequence ${chunk.seq} must be a non-negative integer`);
  if (!Number.isSafeInteger(chunk.gpsStart) || chunk.gpsStart < 0) {
    throw new UsageError(`chunk ${chunk.seq}: GPS start ${chunk.gpsStart} must be a non-negative integer`);
  }
  if (!Number.isFinite(extra.tAvail)) throw new UsageError(`chunk ${chunk.seq}: t_avail ${extra.tAvail} must be a finite epoch time in ms`);
  if (!Number.isFinite(chunk.source.gpsStart)) throw new UsageError(`chunk ${chunk.seq}: source GPS ${chunk.source.gpsStart} must be finite`);
  const gps = BigInt(chunk.gpsStart);
  return {
    seq: BigInt(chunk.seq),
    gpsMeta: gps,
    xstartStrain: gps,
    xstartDq: gps,
    sourceGps: chunk.source.gpsStart,
    tAvail: extra.tAvail,
    utcStart: utcOf(chunk.gpsStart),
    samples: chunk.samples,
    dqMask: Uint32Array.from(chunk.dqMask ?? []),
  };
}

function utcOf(gps: number): string {
  const iso = new Date(gpsToUnixMs(gps)).toISOString().slice(0, utcLength);
  // Years outside 0000-9999 change the ISO length; GPS times never get there, but the slot is fixed.
  return iso.length === utcLength ? iso : '0000-00-00T00:00:00';
}
