import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Benchmark, BenchContext, Metric } from '../types.js';
import { chunksLost, latencyMetrics, round } from './helpers.js';
import { rehearsalReport } from './latency.js';
import { sampledRehearsal } from './process-memory.js';

const count = 14_400;
const rateFactor = 60;
/** Chunks of 1 s at rate factor 60: one every 16.7 ms, 3,600 a minute, the 4 hours in 4 minutes. */
const chunksPerMinute = rateFactor * 60;
const sampleEveryMs = 500;
/** Issue 16: memory per process <= 200 MB and flat. */
const maxRssTargetMb = 200;
const growthTargetMbPerMin = 5;

/**
 * Whether every process of a 4-hour rehearsal keeps a flat memory, asked of a run long enough to
 * answer it: `wavefier rehearse --count 14400 --rate-factor 60`, i.e. the 4 hours' chunks paced over
 * 4 minutes, so that each third of the transfer lasts ~80 s (many full collections in every process)
 * where the unpaced replay's last 10 s cannot tell a heap still growing to its working size from a
 * leak. The same /proc sampling as replay-14400 (process-memory.ts).
 */
async function run(context: BenchContext): Promise<Metric[]> {
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const logDir = join(context.workDir, 'logs');
  const args = ['rehearse', '--count', String(count), '--rate-factor', String(rateFactor), '--keep', 'none', '--no-plots', '--log-dir', logDir, '--deadline', '8m'];
  context.log(`wavefier ${args.join(' ')} (about ${Math.round(count / rateFactor / 60)} minutes)`);
  const { result, sampler } = await sampledRehearsal(args, sampleEveryMs);
  const loadAfter = loadavg()[0] ?? Number.NaN;
  const { report } = await rehearsalReport(result);
  const { integrity, latency } = report;
  const lost = chunksLost(integrity, count);

  const transfer = sampler.lifetime('upload');
  const metrics: Metric[] = [
    { name: 'chunks verified', value: integrity.verified, unit: 'chunks', target: `== ${count}` },
    { name: 'chunks lost (missing, unaccounted, failed)', key: 'lost', value: lost, unit: 'chunks', target: '== 0' },
    { name: 'chunks corrupted (final)', key: 'corrupted', value: integrity.corrupted, unit: 'chunks', target: '== 0' },
    ...latencyMetrics('total latency', latency.total),
    {
      name: 'transfer phase (the upload process\'s lifetime)',
      value: transfer === undefined ? Number.NaN : round((transfer.to - transfer.from) / 1000, 1),
      unit: 's',
      note: 'each third of it is compared: the middle third with the last',
    },
    { name: 'load average (1 min) before', key: 'load.before', value: round(loadBefore, 2), unit: '' },
    { name: 'load average (1 min) after', key: 'load.after', value: round(loadAfter, 2), unit: '' },
  ];

  const summaries = sampler.summaries(transfer).sort((a, b) => a.role.localeCompare(b.role) || a.pid - b.pid);
  const seen = new Map<string, number>();
  for (const process of summaries) {
    const index = (seen.get(process.role) ?? 0) + 1;
    seen.set(process.role, index);
    const several = summaries.filter((other) => other.role === process.role).length > 1;
    const label = several ? `${process.role} #${index}` : process.role;
    // Growth per chunk paced through: what a 4-hour run at 1 Hz would accumulate, whatever the rate.
    const bytesPerChunk = (process.thirdsFloorGrowthMbPerMin * 1024 * 1024) / chunksPerMinute;
    metrics.push(
      {
        name: `${label}: max RSS (sampled every ${sampleEveryMs} ms)`,
        key: `rss.${label}`,
        value: round(process.maxRssMb, 1),
        unit: 'MB',
        target: `<= ${maxRssTargetMb}`,
        note: `VmHWM ${round(process.hwmMb, 1)} MB; anonymous (heap) part at most ${round(process.maxAnonMb, 1)} MB; ${process.samples} samples`,
      },
      {
        name: `${label}: RSS floor growth, last third of the transfer vs its middle third`,
        key: `trend.${label}`,
        value: round(process.thirdsFloorGrowthMbPerMin, 2),
        unit: 'MB/min',
        target: `<= ${growthTargetMbPerMin}`,
        note:
          `${round(process.thirdsFloorGrowthMb, 1)} MB from the lowest RSS of the middle third to the lowest of the last; ` +
          `anonymous part: ${round(process.thirdsAnonFloorGrowthMbPerMin, 2)} MB/min; ` +
          `least-squares slope of the 5 s floors over the second half: ${round(process.secondHalfSlopeMbPerMin, 2)} MB/min`,
      },
      {
        name: `${label}: RSS floor growth per chunk`,
        key: `per-chunk.${label}`,
        value: round(bytesPerChunk, 0),
        unit: 'bytes',
        note: `${chunksPerMinute} chunks a minute; over a whole 4-hour run (${count} chunks) that would be ${round((bytesPerChunk * count) / 1024 / 1024, 1)} MB`,
      },
      { name: `${label}: CPU time per chunk`, key: `cpu.${label}`, value: round((process.cpuSeconds * 1000) / count, 2), unit: 'ms' },
    );
  }
  return metrics;
}

export const memoryPaced: Benchmark = {
  name: 'memory-paced',
  title: 'memory per process over a paced 14,400-chunk rehearsal (4 hours in 4 minutes): <= 200 MB and flat',
  description:
    `\`wavefier rehearse --count ${count} --rate-factor ${rateFactor} --keep none --no-plots --deadline 8m\` (the built executable, ` +
    "rehearse's defaults otherwise: synthetic 4 kHz source, verification in the download process, phase-locked polls): " +
    `the chunks of a 4-hour rehearsal paced at ${rateFactor} per second, so the transfer lasts about 4 minutes and each of its ` +
    'thirds about 80 s. This is the run that judges "flat" (issue 16: memory per process <= 200 MB and flat); ' +
    "replay-14400's thirds last ~10 s, too short to tell a heap growing to its working size from a leak, and its trend is " +
    'informative only. The benchmark process reads /proc every 500 ms (VmRSS, RssAnon, VmHWM, CPU time of every process under ' +
    'rehearse: rehearse with its live view, the lake, upload, download, redis-server, any download worker). Flat: the lowest RSS ' +
    "of the last third of the transfer (the upload process's lifetime) at most 5 MB a minute above the lowest of its middle " +
    'third; the lowest RSS over a third spans many collections, so the collector\'s sawtooth does not count, nor does warm-up ' +
    `in the first third. Growth per chunk converts that to bytes per chunk paced through (${chunksPerMinute} a minute): at this rate ` +
    '5 MB/min is ~1.4 KB per chunk, i.e. 20 MB over a whole 4-hour run. All processes share the 2 cores with whatever else runs ' +
    '(load average in the table); memory depends little on it.',
  run,
};
