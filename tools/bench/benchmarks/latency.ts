import { loadavg } from 'node:os';
import { join } from 'node:path';
import { downloadLogFile } from '../../../src/common/log-records.js';
import type { ChildResult } from '../../../src/rehearse/index.js';
import { buildReport, latencyStats, type Report } from '../../../src/report/index.js';
import type { Benchmark, BenchContext, Metric } from '../types.js';
import { latencyMetrics, readJsonLines, round, runWavefier } from './helpers.js';

/** Chunks at the start and the end left out of "steady state" (start-up, the last polls and the close). */
export const edgeChunks = 5;

interface LatencyPlan {
  rateFactor: number;
  count: number;
  /** Issue 16's targets for this rate. */
  targets: { p50: string; p99: string; requestsPerChunk?: string };
}

/**
 * A paced rehearsal exactly as a user starts it: `wavefier rehearse --rate-factor N` (embedded lake
 * and private redis-server, `wavefier upload` and `wavefier download` as two more processes,
 * download worker processes below that), default settings otherwise. The latencies come from the
 * run's logs through the report module, as `wavefier report` computes them; the catalog requests
 * from the download's `poll answered` debug lines.
 */
async function runLatency(context: BenchContext, plan: LatencyPlan): Promise<Metric[]> {
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const logDir = join(context.workDir, 'logs');
  const seconds = Math.round(plan.count / plan.rateFactor);
  context.log(`rehearse --rate-factor ${plan.rateFactor} --count ${plan.count} (about ${seconds} s)`);
  const result = await runWavefier(
    'rehearse',
    ['rehearse', '--rate-factor', String(plan.rateFactor), '--count', String(plan.count), '--log-dir', logDir, '--no-plots'],
    { ...process.env },
    context.log,
  );
  const loadAfter = loadavg()[0] ?? Number.NaN;
  const { runDir, report } = await rehearsalReport(result);
  const { integrity, latency, samples } = report;
  const steady = (values: Float64Array): ReturnType<typeof latencyStats> => latencyStats(values.subarray(edgeChunks));
  const after = `after the first ${edgeChunks} chunks`;
  const total = latency.total;
  const first = samples.total[0] ?? Number.NaN;
  const requests = await steadyCatalogRequests(join(runDir, downloadLogFile), samples.tAvail);
  return [
    { name: 'chunks verified', value: integrity.verified, unit: 'chunks', target: `== ${plan.count}` },
    { name: 'chunks missing or corrupted', value: integrity.missing + integrity.corrupted + integrity.failedUploads, unit: 'chunks', target: '== 0' },
    ...latencyMetrics('upload latency', latency.upload, { p50: '<= 20', p99: '<= 100' }, true),
    ...latencyMetrics('detection delay', latency.detection, {}, true),
    ...latencyMetrics('total latency', total, { p50: plan.targets.p50, p99: plan.targets.p99 }, true).map((metric) => ({
      ...metric,
      key: `total.${metric.name.split(' ').at(-1) ?? ''}`,
    })),
    ...latencyMetrics('pacing error', latency.pacingError, {}, true),
    ...latencyMetrics(`upload latency ${after}`, steady(samples.upload), {}, true),
    ...latencyMetrics(`detection delay ${after}`, steady(samples.detection), {}, true),
    ...latencyMetrics(`total latency ${after}`, steady(samples.total), {}, true),
    {
      name: 'chunk 0: total latency',
      key: 'chunk0.total',
      value: round(first),
      unit: 'ms',
      note: `upload ${round(samples.upload[0] ?? Number.NaN)} ms, detection ${round(samples.detection[0] ?? Number.NaN)} ms`,
    },
    {
      name: 'chunk 0: total latency / median total latency',
      key: 'chunk0.ratio',
      value: total === null ? Number.NaN : round(first / total.median, 2),
      unit: 'x',
      target: '<= 2',
    },
    {
      name: 'catalog requests per chunk, steady state',
      key: 'requests',
      value: round(requests.perChunk, 2),
      unit: 'requests',
      ...(plan.targets.requestsPerChunk === undefined ? {} : { target: plan.targets.requestsPerChunk }),
      note: `${requests.requests} requests of the download in ${requests.polls} polls while chunks ${edgeChunks}..${plan.count - edgeChunks - 1} were due`,
    },
    { name: 'load average (1 min) before', key: 'load.before', value: round(loadBefore, 2), unit: '' },
    { name: 'load average (1 min) after', key: 'load.after', value: round(loadAfter, 2), unit: '' },
  ];
}

/** The run directory a finished `wavefier rehearse` names in its --json summary, and the report of its logs. */
export async function rehearsalReport(result: ChildResult): Promise<{ runDir: string; report: Report }> {
  // rehearse --json: the report's object with the rehearsal's own part (docs/report.schema.json).
  const runDir = (result.summary as { rehearsal?: { run_dir?: unknown } } | undefined)?.rehearsal?.run_dir;
  if (typeof runDir !== 'string') throw new Error('wavefier rehearse printed no run_dir in its --json summary');
  return { runDir, report: await buildReport([runDir]) };
}

/**
 * The stretch of a run that counts as steady: after the due time of the first chunk that is not at
 * an edge of the run, up to that of the last one; `chunks` were due in it.
 */
export function steadyWindow(tAvail: Float64Array): { from: number; to: number; chunks: number } {
  return {
    from: tAvail[edgeChunks] ?? Number.NaN,
    to: tAvail[tAvail.length - edgeChunks - 1] ?? Number.NaN,
    chunks: tAvail.length - 2 * edgeChunks - 1,
  };
}

/**
 * The download's catalog requests per chunk while the stream is steady: the `poll answered` debug
 * lines (one per poll, with every request it made) logged in the steady window.
 */
export async function steadyCatalogRequests(downloadLog: string, tAvail: Float64Array): Promise<{ requests: number; polls: number; perChunk: number }> {
  const { from, to, chunks } = steadyWindow(tAvail);
  let requests = 0;
  let polls = 0;
  for (const line of await readJsonLines(downloadLog)) {
    if (line.msg !== 'poll answered' || typeof line.requests !== 'number' || typeof line.time !== 'number') continue;
    if (line.time <= from || line.time > to) continue;
    requests += line.requests;
    polls++;
  }
  return { requests, polls, perChunk: chunks > 0 ? requests / chunks : Number.NaN };
}

function description(plan: LatencyPlan, defaults: string): string {
  return (
    `\`wavefier rehearse --rate-factor ${plan.rateFactor} --count ${plan.count} --no-plots\` (the built executable, ${defaults}), i.e. the ` +
    'embedded lake and a private redis-server under the rehearse process, upload and download as two more processes. Upload ' +
    'latency (t_uploaded - t_avail), detection delay (t_detected - t_uploaded) and total latency (t_verified - t_avail) are ' +
    "exact percentiles from the run's logs, computed by the report module, over all chunks (the targets: issue 16's) and again " +
    `without the first ${edgeChunks} chunks. Chunk 0 against the median says whether the start was warm. Catalog requests per ` +
    `chunk count every request of the download's polls (its \`poll answered\` debug lines) between the due times of chunk ` +
    `${edgeChunks} and of the ${edgeChunks + 1}th chunk from the end. All processes share the 2 cores with whatever else runs: ` +
    'the load average before and after is in the table.'
  );
}

const oneHz: LatencyPlan = { rateFactor: 1, count: 120, targets: { p50: '<= 40', p99: '<= 120', requestsPerChunk: '<= 1.5' } };
const rateTen: LatencyPlan = { rateFactor: 10, count: 600, targets: { p50: '<= 60', p99: '<= 200' } };

export const latency1hz: Benchmark = {
  name: 'latency-1hz',
  title: 'latency of a paced 1 Hz rehearsal with default settings',
  description: description(oneHz, 'default settings: 4 upload workers, verification in the download process (--download-workers 0), phase-locked polling, --keep none'),
  run: (context) => runLatency(context, oneHz),
};

export const latencyRate10: Benchmark = {
  name: 'latency-rate-10',
  title: "latency of a rehearsal with rehearse's defaults (rate factor 10)",
  description: description(rateTen, "rehearse's defaults: rate factor 10, 4 upload workers, verification in the download process (--download-workers 0), phase-locked polling, --keep none"),
  run: (context) => runLatency(context, rateTen),
};
