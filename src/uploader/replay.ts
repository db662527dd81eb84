import { definedProps } from '../common/defined.js';
import { UsageError } from '../common/errors.js';
import type { DqPolicy, GapPolicy, SourceSpec } from '../strain/index.js';

// Types and text only (no HDF5 at import): the CLI loads this for its flags and its output.

/** What a replay sends, said once at the start of a run (its header, its run_started line, a dry run). */
export interface ReplayDescription {
  /** `synthetic`, or the file's name. */
  source: string;
  order?: 'sequential' | 'random';
  sourceRateHz: number;
  sampleRateHz: number;
  chunkSeconds: number;
  samplesPerChunk: number;
  chunkBytes: number;
  /** File sources: distinct chunks in the file, and the first seq of a sequential replay that reads it from its start again. */
  distinctChunks?: number;
  wrapsAt?: number;
  startOffsetS?: number;
  gapPolicy: GapPolicy;
  dqPolicy: DqPolicy;
}

/** The synthetic stream's rate and detector when no flag says otherwise. */
export const syntheticDefaults = { sampleRate: 4096, detector: 'V1' } as const;

/** The source flags of `upload` (and of `rehearse`, which passes them on). */
export interface SourceFlags {
  source: string;
  order: 'sequential' | 'random';
  seed: number;
  /** Milliseconds. */
  startOffset?: number | undefined;
  sampleRate: number;
  detector: string;
  resample?: number | undefined;
}

/** The source a run replays, from its flags. */
export function sourceSpecFrom(flags: SourceFlags): SourceSpec {
  if (flags.source === 'synthetic') {
    if (flags.resample !== undefined) throw new UsageError('--resample applies to a file source; the synthetic stream is generated at --sample-rate');
    return { kind: 'synthetic', sampleRate: flags.sampleRate, seed: flags.seed, detector: flags.detector };
  }
  return {
    kind: 'file',
    path: flags.source,
    order: flags.order,
    seed: flags.seed,
    ...definedProps({ startOffset: flags.startOffset === undefined ? undefined : flags.startOffset / 1000, resample: flags.resample }),
  };
}

/** The replay in one line for people. */
export function replayLine(replay: ReplayDescription): string {
  const rate =
    replay.sourceRateHz === replay.sampleRateHz ? `${replay.sampleRateHz} Hz` : `${replay.sourceRateHz} Hz resampled to ${replay.sampleRateHz} Hz`;
  const size = `${replay.samplesPerChunk} samples, ${(replay.chunkBytes / 1000).toFixed(1)} kB`;
  let repeat: string;
  if (replay.distinctChunks === undefined) repeat = 'never repeats';
  else if (replay.order === 'random') repeat = `drawn at random from its ${replay.distinctChunks} chunks`;
  else repeat = `${replay.distinctChunks} chunks in the file, from ${replay.startOffsetS ?? 0} s: chunk ${replay.wrapsAt ?? replay.distinctChunks} starts it over`;
  return (
    `replay: ${replay.source}, ${rate}, chunks of ${replay.chunkSeconds} s (${size}); ${repeat}; ` +
    `chunks with NaN gaps: ${replay.gapPolicy}; chunks failing DQ: ${replay.dqPolicy}`
  );
}

/** The description as run_started's settings carry it (snake_case, like every log field). */
export function replaySettings(replay: ReplayDescription): Record<string, unknown> {
  return definedProps({
    source_name: replay.source,
    source_rate_hz: replay.sourceRateHz,
    sample_rate_hz: replay.sampleRateHz,
    chunk_samples: replay.samplesPerChunk,
    chunk_bytes: replay.chunkBytes,
    distinct_chunks: replay.distinctChunks,
    wraps_at: replay.wrapsAt,
    dq_policy: replay.dqPolicy,
  });
}
