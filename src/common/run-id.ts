import { randomBytes } from 'node:crypto';

/**
 * Run ids and the names derived from them: the producer makes the id, and the chunk names carry its
 * tag (the chunks carry the id itself as an attribute, which is what the report joins on).
 */

/** A new run id: the UTC start time to the second plus 4 random hex digits (`20261126T190836Z-ed20`). */
export function newRunId(now: number = Date.now()): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

/**
 * The default TAG of a run's chunk names. Chunk GPS starts follow the run's own timeline from the
 * current GPS second, so an accelerated run (chunks ahead of real time) would reuse the names of a run
 * started just after it in the same scope; DIDs are immutable, so names carry the run id.
 */
export function runTag(runId: string): string {
  return `WAVEFIER_${runId.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`;
}
