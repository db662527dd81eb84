import { loadavg } from 'node:os';
import { join } from 'node:path';
import { downloadLogFile, uploadLogFile } from '../../../src/common/log-records.js';
import type { Benchmark, BenchContext, Metric } from '../types.js';
import { median, readJsonLines, round, runWavefier } from './helpers.js';
import { rehearsalReport } from './latency.js';

/**
 * Chunk 0 is one sample per run: a single rehearsal says little about whether a warm start holds.
 * This benchmark runs several short rehearsals at rehearse's defaults and judges every one of them,
 * and says where chunk 0 still pays more than a median chunk, stage by stage.
 */
const rehearsals = 8;
const chunksPerRehearsal = 60;
const rateFactor = 10;

/** The stages of a chunk's total latency, each a difference of two timestamps of the logs. */
const stages = [
  { name: 'queueing', note: 't_started - t_avail: pacer, BullMQ add, worker pick-up' },
  { name: 'upload', note: 't_uploaded - t_started: encode, PUT, register + attach' },
  { name: 'detection', note: 't_detected - t_uploaded' },
  { name: 'fetch', note: 't_downloaded - t_detected' },
  { name: 'verify', note: 't_verified - t_downloaded' },
] as const;
type Stage = (typeof stages)[number]['name'];

interface RunFigures {
  ratio: number;
  chunk0: number;
  median: number;
  /** Chunk 0's time in each stage minus the median chunk's time in it. */
  extra: Record<Stage, number>;
}

/** The median of the finite values (a chunk missing a timestamp gives NaN stages, left out). */
function finiteMedian(values: readonly number[]): number {
  return median(values.filter((value) => Number.isFinite(value)));
}

function numberField(record: Record<string, unknown>, field: string): number {
  const value = record[field];
  return typeof value === 'number' ? value : Number.NaN;
}

/** Each stage's duration for every chunk verified, by seq, from the two logs of a run. */
async function stageDurations(runDir: string): Promise<Map<number, Record<Stage, number>>> {
  const uploads = new Map<number, Record<string, unknown>>();
  for (const record of await readJsonLines(join(runDir, uploadLogFile))) {
    if (record.event === 'uploaded' && typeof record.seq === 'number') uploads.set(record.seq, record);
  }
  const durations = new Map<number, Record<Stage, number>>();
  for (const verified of await readJsonLines(join(runDir, downloadLogFile))) {
    if (verified.event !== 'verified' || typeof verified.seq !== 'number') continue;
    const uploaded = uploads.get(verified.seq);
    if (uploaded === undefined) continue;
    const at = (record: Record<string, unknown>, field: string): number => numberField(record, field);
    durations.set(verified.seq, {
      queueing: at(uploaded, 't_started') - at(uploaded, 't_avail'),
      upload: at(uploaded, 't_uploaded') - at(uploaded, 't_started'),
      detection: at(verified, 't_detected') - at(uploaded, 't_uploaded'),
      fetch: at(verified, 't_downloaded') - at(verified, 't_detected'),
      verify: at(verified, 't_verified') - at(verified, 't_downloaded'),
    });
  }
  return durations;
}

async function oneRehearsal(context: BenchContext, index: number): Promise<RunFigures> {
  const logDir = join(context.workDir, `logs-${index}`);
  const result = await runWavefier(
    'rehearse',
    ['rehearse', '--rate-factor', String(rateFactor), '--count', String(chunksPerRehearsal), '--log-dir', logDir, '--no-plots'],
    { ...process.env },
    context.log,
  );
  const { runDir, report } = await rehearsalReport(result);
  const totalMedian = report.latency.total?.median ?? Number.NaN;
  const chunk0 = report.samples.total[0] ?? Number.NaN;
  const durations = await stageDurations(runDir);
  const first = durations.get(0);
  const extra = {} as Record<Stage, number>;
  for (const { name } of stages) {
    extra[name] = (first?.[name] ?? Number.NaN) - finiteMedian([...durations.values()].map((chunk) => chunk[name]));
  }
  return { ratio: chunk0 / totalMedian, chunk0, median: totalMedian, extra };
}

async function run(context: BenchContext): Promise<Metric[]> {
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const runs: RunFigures[] = [];
  for (let index = 0; index < rehearsals; index++) {
    context.log(`rehearsal ${index + 1} of ${rehearsals}: rehearse --rate-factor ${rateFactor} --count ${chunksPerRehearsal}`);
    runs.push(await oneRehearsal(context, index));
  }
  const loadAfter = loadavg()[0] ?? Number.NaN;
  const ratios = runs.map((figures) => figures.ratio);
  const within = ratios.filter((ratio) => ratio <= 2).length;
  return [
    {
      name: 'rehearsals whose chunk 0 took at most 2x their median total latency',
      key: 'chunk0.within',
      value: within,
      unit: 'rehearsals',
      target: `== ${rehearsals}`,
      note: `chunk 0 / median in each: ${ratios.map((ratio) => round(ratio, 2)).join(', ')}`,
    },
    { name: 'chunk 0 / median total latency: worst rehearsal', key: 'chunk0.worst', value: round(Math.max(...ratios), 2), unit: 'x', target: '<= 2' },
    { name: 'chunk 0 / median total latency: median of the rehearsals', key: 'chunk0.median', value: round(finiteMedian(ratios), 2), unit: 'x' },
    { name: 'chunk 0 total latency: median of the rehearsals', value: round(finiteMedian(runs.map((figures) => figures.chunk0))), unit: 'ms' },
    { name: 'median total latency: median of the rehearsals', value: round(finiteMedian(runs.map((figures) => figures.median))), unit: 'ms' },
    ...stages.map(({ name, note }) => ({
      name: `chunk 0's extra time in ${name} over the median chunk's: median of the rehearsals`,
      key: `extra.${name}`,
      value: round(finiteMedian(runs.map((figures) => figures.extra[name]))),
      unit: 'ms',
      note,
    })),
    { name: 'load average (1 min) before', key: 'load.before', value: round(loadBefore, 2), unit: '' },
    { name: 'load average (1 min) after', key: 'load.after', value: round(loadAfter, 2), unit: '' },
  ];
}

export const latencyChunk0: Benchmark = {
  name: 'latency-chunk0',
  title: `chunk 0 against the median in ${rehearsals} separate rehearsals at rate factor ${rateFactor}`,
  description:
    `${rehearsals} runs, one after the other, of \`wavefier rehearse --rate-factor ${rateFactor} --count ${chunksPerRehearsal} --no-plots\` ` +
    "(the built executable, rehearse's defaults). Chunk 0 is one sample per run, so one rehearsal cannot say whether the start " +
    'is reliably warm: each run is judged on its own (chunk 0 total latency / the median total latency of its chunks, as the ' +
    "report computes them), and chunk 0's extra time over the median chunk is split into stages from the two logs' timestamps " +
    '(queueing t_started - t_avail, upload t_uploaded - t_started, detection, fetch, verify), median over the runs.',
  run,
};
