import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CleanupStack } from '../../../src/common/cleanup.js';
import { startStack } from '../../../src/rehearse/index.js';
import { latencyStats } from '../../../src/report/index.js';
import type { Benchmark, BenchContext, Metric } from '../types.js';
import { latencyMetrics, quietLake, readJsonLines, round, runWavefier, slope, uploadLog } from './helpers.js';

/** A last chunk may be this much later than the first and still count as "no drift" (= the p99 target). */
const driftToleranceMs = 5;
/** Chunks averaged at each end for the robust drift figure. */
const endWindow = 10;

interface PacedRun {
  label: string;
  count: number;
  rateFactor: number;
  /** Whether the p99/max targets apply (they are for rehearsal rates; the long run is about drift). */
  errorTargets: boolean;
}

/**
 * The control: a bare Node process that sleeps to the same absolute schedule with the same timer
 * call and clock as the pacer and prints its errors. What it sees is the machine (other processes,
 * the scheduler), not wavefier; started together with the upload so both see the same load.
 */
const controlScript = `
const [intervalMs, count, t0] = process.argv.slice(1).map(Number);
const errors = [];
for (let k = 0; k < count; k++) {
  const due = t0 + k * intervalMs;
  for (let left = due - Date.now(); left > 0; left = due - Date.now()) await new Promise((r) => setTimeout(r, left));
  errors.push(Date.now() - due);
}
process.stdout.write(JSON.stringify(errors));
`;

function startControl(intervalMs: number, count: number): Promise<number[]> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', controlScript, String(intervalMs), String(count), String(Date.now() + 1000)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let text = '';
  child.stdout.on('data', (data: Buffer) => (text += data.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`the control timer process exited with ${code ?? 'a signal'}`));
      else resolve(JSON.parse(text) as number[]);
    });
  });
}

const runs: readonly PacedRun[] = [
  { label: '1 Hz', count: 120, rateFactor: 1, errorTargets: true },
  { label: '20 Hz', count: 1200, rateFactor: 20, errorTargets: true },
  // DESIGN's "error at chunk 14,400 no larger than at chunk 1", over a whole 4-hour schedule in 144 s.
  { label: '100 Hz', count: 14_400, rateFactor: 100, errorTargets: false },
];

/**
 * Pacing error (t_enqueued - t_avail) of `wavefier upload` as a user runs it: the built executable
 * in its own process, with its default 4 in-process upload workers, a private redis-server, and the
 * embedded lake in another process (`wavefier lake serve`). Errors come from upload.jsonl.
 */
async function run(context: BenchContext): Promise<Metric[]> {
  const { workDir, log } = context;
  const cleanup = new CleanupStack({ onError: log });
  const metrics: Metric[] = [];
  try {
    const stack = await startStack({ lakeDir: join(workDir, 'lake'), onLakeLine: quietLake(log), cleanup });
    for (const paced of runs) {
      const logDir = join(workDir, 'logs');
      const runId = `bench-pacing-${paced.rateFactor}x-${Date.now()}`;
      log(`${paced.label}: ${paced.count} chunks (${round(paced.count / paced.rateFactor, 1)} s)`);
      const control = startControl(1000 / paced.rateFactor, paced.count);
      await runWavefier(
        'upload',
        [
          'upload',
          '--redis', stack.redisUrl,
          '--log-dir', logDir,
          '--run-id', runId,
          '--rse', 'LAKE_S3',
          '--source', 'synthetic',
          '--count', String(paced.count),
          '--rate-factor', String(paced.rateFactor),
        ],
        stack.env,
        log,
      );
      metrics.push(...pacingMetrics(paced, await readJsonLines(uploadLog(logDir, runId))));
      metrics.push(
        ...latencyMetrics(`${paced.label} control (a bare Node timer loop on the same schedule, same time): timer error`, latencyStats(await control), {}, true),
      );
    }
  } finally {
    await cleanup.run();
  }
  return metrics;
}

function pacingMetrics(paced: PacedRun, records: Record<string, unknown>[]): Metric[] {
  const bySeq = new Map<number, number>();
  for (const record of records) {
    if (record.event !== 'uploaded') continue;
    const { seq, t_avail: tAvail, t_enqueued: tEnqueued } = record;
    if (typeof seq !== 'number' || typeof tAvail !== 'number' || typeof tEnqueued !== 'number') continue;
    if (!bySeq.has(seq)) bySeq.set(seq, tEnqueued - tAvail);
  }
  const seqs = [...bySeq.keys()].sort((a, b) => a - b);
  const errors = seqs.map((seq) => bySeq.get(seq) ?? Number.NaN);
  const label = `${paced.label} (${paced.count} chunks): pacing error`;
  if (errors.length < paced.count) throw new Error(`${paced.label}: only ${errors.length} of ${paced.count} chunks were uploaded with a t_enqueued`);
  const first = errors[0] ?? Number.NaN;
  const last = errors.at(-1) ?? Number.NaN;
  const mean = (values: number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;
  return [
    ...latencyMetrics(label, latencyStats(errors), paced.errorTargets ? { p99: '<= 5', max: '<= 50' } : {}),
    { name: `${label} of the first chunk`, value: round(first), unit: 'ms' },
    { name: `${label} of the last chunk`, value: round(last), unit: 'ms' },
    {
      name: `${label}: drift, last chunk minus first`,
      value: round(last - first),
      unit: 'ms',
      target: `<= ${driftToleranceMs}`,
      note: `no drift = the last chunk is at most ${driftToleranceMs} ms (the p99 target) later than the first`,
    },
    {
      name: `${label}: drift, mean of the last ${endWindow} minus mean of the first ${endWindow}`,
      value: round(mean(errors.slice(-endWindow)) - mean(errors.slice(0, endWindow))),
      unit: 'ms',
      target: `<= ${driftToleranceMs}`,
    },
    {
      name: `${label}: trend (least-squares slope)`,
      value: round(slope(seqs, errors) * 1000),
      unit: 'ms per 1000 chunks',
    },
  ];
}

export const pacing: Benchmark = {
  name: 'pacing',
  title: 'pacing error of a paced upload at 1 Hz and 20 Hz, and its drift over 14,400 chunks',
  description:
    'Pacing error (t_enqueued - t_avail, from upload.jsonl) of `wavefier upload --source synthetic` run as its own process ' +
    '(the built bin/wavefier, default 4 in-process upload workers) against a private redis-server and the embedded lake in ' +
    'a separate `wavefier lake serve` process: 120 chunks at 1 Hz (rate factor 1, 120 s), 1200 chunks at 20 Hz (rate ' +
    'factor 20, 60 s) and a whole 4-hour schedule, 14,400 chunks at 100 Hz (rate factor 100, 144 s), for DESIGN\'s "error at ' +
    'chunk 14,400 no larger than at chunk 1" (the p99/max targets are for the rehearsal rates above). Drift is the last chunk\'s error minus the first\'s (tolerance 5 ms, the p99 target), also as the ' +
    'mean of the last 10 minus the first 10 and as a least-squares trend. Note: the uploader takes t_enqueued just before ' +
    '`queue.add()`, so the figure is timer lateness plus chunk generation, not the Redis round trip. The upload process, ' +
    'the lake process and redis-server share the 2 cores with whatever else runs (see the load average); a control process ' +
    '(a bare Node loop sleeping to the same absolute schedule with setTimeout and Date.now, started at the same time) shows ' +
    'how much of the error the machine alone causes.',
  run,
};
