import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildReport, renderPlots, renderText } from '../../../src/report/index.js';
import { writeSyntheticRun } from '../../fixtures/synthetic-logs.js';

import type { Benchmark, Metric } from '../types.js';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

async function timeBuild(dir: string, repeats: number): Promise<{ ms: number; lines: number }> {
  await buildReport([dir]); // warm-up: module loading and JIT
  const times: number[] = [];
  let lines = 0;
  for (let index = 0; index < repeats; index++) {
    const start = performance.now();
    const report = await buildReport([dir]);
    renderText(report);
    times.push(performance.now() - start);
    lines = report.files.reduce((sum, file) => sum + file.lines, 0);
  }
  return { ms: median(times), lines };
}

/**
 * How long `wavefier report` takes to read, join and summarise the logs of a 4 h rehearsal
 * (14,400 chunks, two upload hosts, diagnostics interleaved) and of a 24 h soak, plus the plots.
 */
async function run(): Promise<Metric[]> {
  const dir = await mkdtemp(join(tmpdir(), 'wavefier-bench-report-'));
  try {
    const fourHours = join(dir, 'four-hours');
    await writeSyntheticRun({ logDir: fourHours, run: 'r4h', chunks: 14_400, uploadHosts: 2, noiseEvery: 10, recovered: [100], missing: [200] });
    const soak = join(dir, 'soak');
    await writeSyntheticRun({ logDir: soak, run: 'r24h', chunks: 86_400, uploadHosts: 2, noiseEvery: 10 });

    const small = await timeBuild(fourHours, 5);
    const large = await timeBuild(soak, 3);
    const collect = garbageCollector();
    collect();
    const heapBefore = process.memoryUsage().heapUsed;
    const held = await buildReport([soak]);
    collect();
    const retainedMb = (process.memoryUsage().heapUsed - heapBefore) / 1_048_576;

    const report = await buildReport([fourHours]);
    const plotStart = performance.now();
    await renderPlots(report);
    const plotMs = performance.now() - plotStart;

    return [
      { name: 'report 4 h run (14,400 chunks) build + text', value: round(small.ms), unit: 'ms', target: '< 1000' },
      { name: 'report 4 h run lines per second', value: Math.round((small.lines / small.ms) * 1000), unit: 'lines/s' },
      { name: 'report 24 h soak (86,400 chunks) build + text', value: round(large.ms), unit: 'ms' },
      { name: `report data retained for the soak (${held.integrity.scheduled} chunks)`, value: round(retainedMb), unit: 'MB' },
      { name: 'report plots (3 SVG + PNG) for 14,400 chunks', value: round(plotMs), unit: 'ms' },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A forced GC for a memory figure that is not noise; the harness runs node without --expose-gc. */
function garbageCollector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  return typeof gc === 'function' ? () => void (gc as () => unknown)() : () => undefined;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

export const reportBuild: Benchmark = {
  name: 'report-build',
  title: 'wavefier report on the logs of a 4 h rehearsal and a 24 h soak',
  description:
    'Reads, validates and joins generated logs in the exact pino format (14,400 chunks from two upload hosts, and 86,400 ' +
    'chunks), renders the text summary, and draws the three plots; median of repeated builds after a warm-up.',
  run,
};
