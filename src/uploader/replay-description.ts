import { basename } from 'node:path';
import { definedProps } from '../common/defined.js';
import { encodeChunk, openSource, type ChunkSource, type DqPolicy, type GapPolicy } from '../strain/index.js';
import { sourceSpecFrom, type ReplayDescription, type SourceFlags } from './replay.js';

/** What a source sends, as the header of a run and its run_started line say it. */
export function describeReplay(source: ChunkSource, policies: { duration: number; gapPolicy: GapPolicy; dqPolicy?: DqPolicy | undefined }): ReplayDescription {
  const spec = source.description;
  const first = source.chunk(0);
  return {
    source: spec.kind === 'file' ? basename(spec.path) : 'synthetic',
    ...(spec.kind === 'file' ? { order: spec.order } : {}),
    sourceRateHz: source.sourceRate,
    sampleRateHz: source.sampleRate,
    chunkSeconds: policies.duration,
    samplesPerChunk: first.samples.length,
    // The size depends on the chunk's shape only (the encoder patches values into a fixed template).
    chunkBytes: encodeChunk(first, { tAvail: 0 }).byteLength,
    ...definedProps({
      distinctChunks: source.distinctChunks,
      wrapsAt: spec.kind === 'file' && spec.order === 'sequential' ? source.wrapsAt : undefined,
      startOffsetS: spec.kind === 'file' ? spec.startOffset : undefined,
    }),
    gapPolicy: policies.gapPolicy,
    dqPolicy: policies.dqPolicy ?? 'send',
  };
}

/** What a run with these source flags would send: the source is opened (and checked) and closed again. */
export async function describeSourceFlags(
  flags: SourceFlags,
  run: { periodMs: number; gapPolicy: GapPolicy; dqPolicy: DqPolicy },
): Promise<ReplayDescription> {
  const duration = run.periodMs / 1000;
  const source = await openSource(sourceSpecFrom(flags), { runId: 'description', gpsStart: 0, duration });
  try {
    return describeReplay(source, { duration, gapPolicy: run.gapPolicy, dqPolicy: run.dqPolicy });
  } finally {
    source.close();
  }
}
