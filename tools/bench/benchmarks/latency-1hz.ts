import { join } from 'node:path';
import { buildReport, latencyStats } from '../../../src/report/index.js';
import type { Benchmark, BenchContext, Metric } from '../types.js';
import { latencyMetrics, round, runWavefier } from './helpers.js';

const count = 120;
/** Chunks at the start whose latency includes start-up (cold connections, JIT, workers forking). */
const warmupChunks = 5;

/**
 * A real-time rehearsal exactly as a user starts it: `wavefier rehearse --rate-factor 1` (embedded
 * lake and private redis-server in the rehearse process, `wavefier upload` and `wavefier download`
 * as two more processes, download worker processes below that), default settings otherwise. The
 * latencies come from the run's logs through the report module, as `wavefier report` computes them.
 */
async function run(context: BenchContext): Promise<Metric[]> {
  const logDir = join(context.workDir, 'logs');
  context.log(`rehearse --rate-factor 1 --count ${count} (about ${count} s)`);
  const result = await runWavefier(
    'rehearse',
    ['rehearse', '--rate-factor', '1', '--count', String(count), '--log-dir', logDir, '--no-plots'],
    { ...process.env },
    context.log,
  );
  const runDir = (result.summary as { run_dir?: unknown } | undefined)?.run_dir;
  if (typeof runDir !== 'string') throw new Error('wavefier rehearse printed no run_dir in its --json summary');
  const report = await buildReport([runDir]);
  const { integrity, latency, samples } = report;
  const steady = (values: Float64Array): ReturnType<typeof latencyStats> => latencyStats(values.subarray(warmupChunks));
  const after = `after the first ${warmupChunks} chunks`;
  return [
    { name: 'chunks verified', value: integrity.verified, unit: 'chunks', target: `== ${count}` },
    { name: 'chunks missing or corrupted', value: integrity.missing + integrity.corrupted + integrity.failedUploads, unit: 'chunks', target: '== 0' },
    ...latencyMetrics('upload latency', latency.upload, { p50: '<= 20', p99: '<= 100' }, true),
    ...latencyMetrics('detection delay', latency.detection, {}, true),
    ...latencyMetrics('total latency', latency.total, { p50: '<= 300' }, true),
    ...latencyMetrics('pacing error', latency.pacingError, {}, true),
    ...latencyMetrics(`upload latency ${after}`, steady(samples.upload), {}, true),
    ...latencyMetrics(`detection delay ${after}`, steady(samples.detection), {}, true),
    ...latencyMetrics(`total latency ${after}`, steady(samples.total), {}, true),
    {
      name: 'first chunk: upload latency',
      value: round(samples.upload[0] ?? Number.NaN),
      unit: 'ms',
      note: `its detection delay: ${round(samples.detection[0] ?? Number.NaN)} ms (start-up costs land on the first chunks)`,
    },
  ];
}

export const latency1hz: Benchmark = {
  name: 'latency-1hz',
  title: 'latency of a paced 1 Hz rehearsal with default settings',
  description:
    `\`wavefier rehearse --rate-factor 1 --count ${count} --no-plots\` (the built executable, default settings: 4 upload ` +
    'workers, 2 download worker processes, incremental polling every 250 ms, --keep none), i.e. the embedded lake and a ' +
    'private redis-server in the rehearse process, upload and download as two more processes. Upload latency ' +
    '(t_uploaded - t_avail), detection delay (t_detected - t_uploaded) and total latency (t_verified - t_avail) are exact ' +
    'percentiles from the run\'s logs, computed by the report module, over all chunks (the targets) and again without the ' +
    `first ${warmupChunks} chunks, whose latency includes start-up (first connections, JIT, download workers forking): in a ` +
    '120-chunk run the p99 is the second-worst chunk, so start-up decides it. All processes share the 2 cores with whatever ' +
    'else runs (see the load average).',
  run,
};
