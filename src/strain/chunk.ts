/** One chunk of h(t) on the rehearsal's own GPS timeline (DESIGN §3). */
export interface Chunk {
  runId: string;
  /** 0-based sequence in the run. */
  seq: number;
  /** Integer GPS start on the rehearsal timeline: run gpsStart + seq * duration. */
  gpsStart: number;
  /** Seconds. */
  duration: number;
  /** Hz. */
  sampleRate: number;
  /** duration * sampleRate values. */
  samples: Float64Array;
  /** e.g. 'H1'. */
  detector: string;
  /** The SITE letter of the file name, e.g. 'H'. */
  observatory: string;
  source: ChunkOrigin;
  /** Per-second DQ values of the slice when the source has them. */
  dqMask?: number[];
  /** Seconds of the slice that fail the source's data quality (see data-quality.ts); absent without DQ. */
  dqFailedSeconds?: number;
}

export interface ChunkOrigin {
  kind: 'file' | 'synthetic';
  /** Basename of the source file. */
  file?: string;
  /** Source GPS of the slice. */
  gpsStart: number;
}

export type SourceSpec =
  /** `resample`: the rate chunks are sent at, a whole division of the file's (see decimate.ts). */
  | { kind: 'file'; path: string; order: 'sequential' | 'random'; startOffset?: number; seed?: number; resample?: number }
  | { kind: 'synthetic'; sampleRate: number; seed: number; detector?: string };

export interface RunTimeline {
  runId: string;
  gpsStart: number;
  /** Chunk duration in seconds; 1 when absent. */
  duration?: number;
}

export interface ChunkSource {
  /** JSON-serialisable, so a run can be resumed from it. */
  readonly description: SourceSpec;
  /** The rate of the chunks. */
  readonly sampleRate: number;
  /** The rate of the source itself (higher than sampleRate when the chunks are resampled). */
  readonly sourceRate: number;
  /** File sources: distinct chunks in the file, and the first seq that reads it from its start again. */
  readonly distinctChunks?: number;
  readonly wrapsAt?: number;
  readonly detector: string;
  /** Pure function of seq: the same seq always gives the same chunk. */
  chunk(seq: number): Chunk;
  close(): void;
}
