import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { definedProps } from '../../../src/common/defined.js';
import { startWavefier, type ChildResult, type RunningChild } from '../../../src/rehearse/index.js';
import type { Integrity, LatencyStats } from '../../../src/report/index.js';
import type { Metric } from '../types.js';

/**
 * Helpers shared by the benchmarks: `bin/wavefier` children, log reading, number formatting and
 * latency metrics. (The lake and Redis come from src/rehearse's startStack, as in a rehearsal.)
 */

/** The lake's stderr for a benchmark's log, without the Node and AWS SDK notices every process prints. */
export function quietLake(log: (line: string) => void): (line: string) => void {
  return (line) => {
    if (!line.includes('NodeDeprecationWarning') && !line.includes('AWS SDK')) log(`lake | ${line}`);
  };
}

/** Runs `wavefier <args>` to completion and fails with its stderr tail unless it exits 0. */
export async function runWavefier(label: string, args: readonly string[], env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<ChildResult> {
  const tail: string[] = [];
  const child: RunningChild = startWavefier(label, args, env, (name, line) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    if (/error|warning/i.test(line) && !line.includes('NodeDeprecationWarning')) log(`${name} | ${line}`);
  });
  const result = await child.done;
  if (result.code !== 0) throw new Error(`wavefier ${args[0] ?? ''} exited with ${describe(result)}: ${tail.join(' / ')}`);
  return result;
}

export function describe(result: ChildResult): string {
  return result.signal === null ? `code ${result.code ?? 'unknown'}` : `signal ${result.signal}`;
}

/** Every JSON object of a JSON-lines file (pino lines), skipping blank lines. */
export async function readJsonLines(path: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, 'utf8');
  const records: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    records.push(JSON.parse(line) as Record<string, unknown>);
  }
  return records;
}

export function uploadLog(logDir: string, runId: string): string {
  return join(logDir, runId, 'upload.jsonl');
}

export function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** The median (the mean of the two middle values for an even count); NaN for no values. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Least-squares slope of y over x (NaN with fewer than two distinct x). */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return Number.NaN;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i] ?? 0;
    sy += ys[i] ?? 0;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] ?? 0) - mx;
    sxy += dx * ((ys[i] ?? 0) - my);
    sxx += dx * dx;
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/** p50 / p99 (and optionally max) of a latency as metrics, with targets where DESIGN §5 sets them. */
export function latencyMetrics(
  label: string,
  stats: LatencyStats | null,
  targets: { p50?: string; p99?: string; max?: string } = {},
  withMax = false,
): Metric[] {
  const value = (pick: (s: LatencyStats) => number): number => (stats === null ? Number.NaN : round(pick(stats)));
  const metric = (name: string, v: number, target: string | undefined): Metric => ({
    name: `${label} ${name}`,
    value: v,
    unit: 'ms',
    ...definedProps({ target }),
    ...(stats === null ? { note: 'no samples' } : {}),
  });
  return [
    metric('p50', value((s) => s.median), targets.p50),
    metric('p99', value((s) => s.p99), targets.p99),
    ...(withMax || targets.max !== undefined ? [metric('max', value((s) => s.max), targets.max)] : []),
  ];
}

/** Chunks of `scheduled` not accounted for: a run cut short by its deadline must not pass, so chunks in flight at the stop count as lost. */
export function chunksLost(integrity: Integrity, scheduled: number): number {
  return integrity.missing + integrity.unaccounted + integrity.failedUploads + integrity.downloadFailures + integrity.inFlight + (scheduled - integrity.scheduled);
}
