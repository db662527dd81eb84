import { loadavg } from 'node:os';
import { join } from 'node:path';
import { buildReport } from '../../../src/report/index.js';
import type { Benchmark, BenchContext, Metric } from '../types.js';
import { downloadLogFile } from '../../../src/common/log-records.js';
import { chunksLost, latencyMetrics, readJsonLines, round } from './helpers.js';
import { sampledRehearsal } from './process-memory.js';

const count = 14_400;
const sampleEveryMs = 500;
/** Issue 16's target for the whole replay on 2 cores (DESIGN §5 asks for 60 s). */
const wallTargetS = 30;

/**
 * The accelerated replay of a 4-hour rehearsal as a user runs it: `wavefier rehearse --count 14400
 * --as-fast-as-possible --keep none`, the built executable. Every process of the run (rehearse, the
 * lake (`wavefier lake serve`), upload, download, each download worker, redis-server) is found under the rehearse process in /proc every 500 ms and its RSS recorded.
 * Integrity comes from the run's logs through the report module.
 */
async function run(context: BenchContext): Promise<Metric[]> {
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const logDir = join(context.workDir, 'logs');
  const args = ['rehearse', '--count', String(count), '--as-fast-as-possible', '--keep', 'none', '--no-plots', '--log-dir', logDir, '--deadline', '10m'];
  context.log(`wavefier ${args.join(' ')}`);
  const { result, sampler, wallMs } = await sampledRehearsal(args, sampleEveryMs);
  const loadAfter = loadavg()[0] ?? Number.NaN;
  // rehearse --json: the report's object with the rehearsal's own part (docs/report.schema.json).
  const summary = (result.summary as { rehearsal?: { run_dir?: unknown; wall_ms?: unknown } } | undefined)?.rehearsal;
  if (typeof summary?.run_dir !== 'string') throw new Error('wavefier rehearse printed no run_dir in its --json summary');
  const report = await buildReport([summary.run_dir]);
  const { integrity, latency } = report;
  const lost = chunksLost(integrity, count);
  const rehearseWallMs = typeof summary.wall_ms === 'number' ? summary.wall_ms : Number.NaN;

  const metrics: Metric[] = [
    { name: 'wall time (spawn to exit of wavefier rehearse)', key: 'wall', value: round(wallMs / 1000, 2), unit: 's', target: `<= ${wallTargetS}` },
    { name: 'wall time reported by rehearse (lake start to report)', value: round(rehearseWallMs / 1000, 2), unit: 's' },
    { name: 'throughput', value: round(count / (wallMs / 1000), 1), unit: 'chunks/s', target: `>= ${count / wallTargetS}` },
    { name: 'chunks verified', value: integrity.verified, unit: 'chunks', target: `== ${count}` },
    { name: 'chunks lost (missing, unaccounted, failed)', key: 'lost', value: lost, unit: 'chunks', target: '== 0' },
    { name: 'chunks corrupted (final)', key: 'corrupted', value: integrity.corrupted, unit: 'chunks', target: '== 0' },
    { name: 'corrupted reads (incl. recovered)', value: integrity.corruptedReads, unit: 'reads' },
    ...(await pollCost(join(summary.run_dir, downloadLogFile))),
    ...latencyMetrics('upload latency (unpaced: includes queueing)', latency.upload),
    ...latencyMetrics('total latency (unpaced: includes queueing)', latency.total),
  ];

  // The transfer phase is the upload process's lifetime; the trend compares its last third with its middle third.
  const summaries = sampler.summaries(sampler.lifetime('upload')).sort((a, b) => a.role.localeCompare(b.role) || a.pid - b.pid);
  // On a shared machine wall time says as much about the neighbours as about wavefier; CPU time does not.
  const cpuSeconds = summaries.reduce((sum, process) => sum + process.cpuSeconds, 0);
  metrics.push(
    { name: 'CPU time of all processes of the run (user + system)', value: round(cpuSeconds, 1), unit: 's' },
    {
      name: 'CPU time per chunk, all processes',
      key: 'cpu',
      value: round((cpuSeconds * 1000) / count, 2),
      unit: 'ms',
      target: '<= 4',
      note: `issue 16's target; 2 cores x ${wallTargetS} s / 14,400 chunks = ${round((wallTargetS * 2 * 1000) / count, 2)} ms is the most that can fit the wall-time target on an otherwise idle machine`,
    },
    { name: 'load average (1 min) before', key: 'load.before', value: round(loadBefore, 2), unit: '' },
    { name: 'load average (1 min) after', key: 'load.after', value: round(loadAfter, 2), unit: '' },
  );
  const seen = new Map<string, number>();
  for (const process of summaries) {
    const index = (seen.get(process.role) ?? 0) + 1;
    seen.set(process.role, index);
    const several = summaries.filter((other) => other.role === process.role).length > 1;
    const label = several ? `${process.role} #${index}` : process.role;
    metrics.push(
      {
        name: `${label}: max RSS (sampled every ${sampleEveryMs} ms)`,
        key: `rss.${label}`,
        value: round(process.maxRssMb, 1),
        unit: 'MB',
        target: '<= 200',
        note: `VmHWM ${round(process.hwmMb, 1)} MB; anonymous (heap) part at most ${round(process.maxAnonMb, 1)} MB; ${process.samples} samples`,
      },
      {
        // Informative only: thirds of ~10 s cannot tell a heap still growing to its working size
        // from a leak. memory-paced (thirds of ~80 s) judges "flat".
        name: `${label}: RSS floor growth, last third of the transfer vs its middle third (informative: memory-paced judges flatness)`,
        key: `trend.${label}`,
        value: round(process.thirdsFloorGrowthMbPerMin, 2),
        unit: 'MB/min',
        note:
          `${round(process.thirdsFloorGrowthMb, 1)} MB from the lowest RSS of the middle third to the lowest of the last; ` +
          `anonymous part: ${round(process.thirdsAnonFloorGrowthMbPerMin, 2)} MB/min; ` +
          `least-squares slope of the 5 s floors over the second half: ${round(process.secondHalfSlopeMbPerMin, 2)} MB/min; ` +
          'thirds of ~10 s: heaps still sizing themselves and bounded caches still filling show as growth here',
      },
      { name: `${label}: CPU time (user + system)`, value: round(process.cpuSeconds, 1), unit: 's' },
      { name: `${label}: CPU time per chunk`, key: `cpu.${label}`, value: round((process.cpuSeconds * 1000) / count, 2), unit: 'ms' },
    );
  }
  return metrics;
}

/** What the download's polls cost: requests and replicas listed per chunk (a file listed again by a look-back costs the lake and the download). */
async function pollCost(downloadLog: string): Promise<Metric[]> {
  let polls = 0;
  let requests = 0;
  let listed = 0;
  for (const line of await readJsonLines(downloadLog)) {
    if (line.msg !== 'poll answered') continue;
    polls++;
    requests += typeof line.requests === 'number' ? line.requests : 0;
    listed += typeof line.listed === 'number' ? line.listed : 0;
  }
  return [
    { name: 'download polls', value: polls, unit: 'polls' },
    { name: 'catalog requests of the download per chunk', key: 'requests', value: round(requests / count, 3), unit: 'requests' },
    { name: 'replicas listed per chunk (each file once would be 1)', key: 'listed', value: round(listed / count, 2), unit: 'replicas' },
  ];
}

export const replay14400: Benchmark = {
  name: 'replay-14400',
  title: 'accelerated replay of 14,400 chunks (a 4-hour rehearsal): wall time, integrity, CPU and peak memory per process',
  description:
    '`wavefier rehearse --count 14400 --as-fast-as-possible --keep none --no-plots --deadline 10m` (the built executable, ' +
    'default settings otherwise: synthetic 4 kHz source, 16 upload workers, verification in the download process (--download-workers 0), phase-locked polls, ' +
    'i.e. every 250 ms for a stream this fast). The benchmark process only waits and reads /proc every 500 ms: VmRSS, VmHWM and CPU time of every ' +
    'process under rehearse (rehearse, the lake, upload, download, each download worker, redis-server). ' +
    'Max RSS is judged here (<= 200 MB); the RSS trend (each process\'s lowest RSS over the last third of the transfer phase, ' +
    'the upload process\'s lifetime, against its lowest over the middle third, per minute) is informative only: the thirds last ' +
    '~10 s, too short to tell a heap growing to its working size or a bounded cache filling from a leak. memory-paced, the same ' +
    'chunks paced over 4 minutes, judges "flat". Integrity from the logs via ' +
    'the report module. All of these processes share the 2 cores (plus whatever else runs: see the load average).',
  run,
};
