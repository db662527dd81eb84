import { RuntimeFailure, UsageError } from '../common/errors.js';
import type { Chunk } from './chunk.js';

/** What to do with a chunk that contains NaN samples (the detector had no data there). */
export type GapPolicy = 'skip' | 'send' | 'fail';
export const gapPolicies: readonly GapPolicy[] = ['skip', 'send', 'fail'];
export const defaultGapPolicy: GapPolicy = 'skip';

/** Validates an `--on-gap` value. */
export function parseGapPolicy(value: string): GapPolicy {
  const policy = gapPolicies.find((candidate) => candidate === value);
  if (policy === undefined) {
    throw new UsageError(`--on-gap ${JSON.stringify(value)} is not a gap policy: use skip (drop chunks with NaN), send (upload them flagged) or fail (stop the run)`);
  }
  return policy;
}

/** A run of consecutive NaN samples: offset and length in samples. */
export interface SampleRun {
  start: number;
  length: number;
}

export function findNanRuns(samples: Float64Array): SampleRun[] {
  const runs: SampleRun[] = [];
  let start = -1;
  for (let index = 0; index < samples.length; index++) {
    const value = samples[index] as number;
    if (value !== value) {
      if (start < 0) start = index;
    } else if (start >= 0) {
      runs.push({ start, length: index - start });
      start = -1;
    }
  }
  if (start >= 0) runs.push({ start, length: samples.length - start });
  return runs;
}

export function hasGap(chunk: Pick<Chunk, 'samples'>): boolean {
  const samples = chunk.samples;
  for (let index = 0; index < samples.length; index++) {
    const value = samples[index] as number;
    if (value !== value) return true;
  }
  return false;
}

/** The NaN content of a chunk, for the caller's log line. */
export interface GapInfo {
  nanSamples: number;
  /** NaN intervals in source GPS time [start, end). */
  intervals: { gpsStart: number; gpsEnd: number }[];
}

export function gapInfo(chunk: Pick<Chunk, 'samples' | 'sampleRate' | 'source'>): GapInfo {
  const runs = findNanRuns(chunk.samples);
  const spacing = 1 / chunk.sampleRate;
  return {
    nanSamples: runs.reduce((sum, run) => sum + run.length, 0),
    intervals: runs.map((run) => ({
      gpsStart: chunk.source.gpsStart + run.start * spacing,
      gpsEnd: chunk.source.gpsStart + (run.start + run.length) * spacing,
    })),
  };
}

export type GapDecision = { action: 'send'; gap?: GapInfo } | { action: 'skip'; gap: GapInfo };

/** Raised by the `fail` policy; the uploader stops the run on it. */
export class GapError extends RuntimeFailure {
  readonly gap: GapInfo;
  constructor(message: string, gap: GapInfo) {
    super(message);
    this.gap = gap;
  }
}

/**
 * Applies a gap policy to one chunk. `send` still reports the gap so the caller can flag the chunk in
 * its log; `skip` tells the caller to log and drop it; `fail` throws GapError.
 */
export function applyGapPolicy(chunk: Chunk, policy: GapPolicy): GapDecision {
  if (!hasGap(chunk)) return { action: 'send' };
  const gap = gapInfo(chunk);
  if (policy === 'send') return { action: 'send', gap };
  if (policy === 'skip') return { action: 'skip', gap };
  const first = gap.intervals[0];
  throw new GapError(
    `chunk ${chunk.seq} of run ${chunk.runId} (source ${chunk.source.file ?? chunk.source.kind} GPS ${chunk.source.gpsStart}) holds ` +
      `${gap.nanSamples} NaN samples${first ? ` from GPS ${first.gpsStart}` : ''}; use --on-gap skip or send to continue past data gaps`,
    gap,
  );
}
