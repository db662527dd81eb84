import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport, parseObjective, readObjectives, renderText, verdictErrorFor, verdictLine } from '../../src/report/index.js';
import { writeSyntheticRun } from '../../tools/fixtures/synthetic-logs.js';
import { scratchDirPerTest } from '../helpers/scratch.js';

const scratch = scratchDirPerTest('wavefier-report-slo-');

describe('latency objectives (--slo)', () => {
  it('parses metric.statistic<=threshold in the forms people write', () => {
    expect(parseObjective('total.p99<=2s')).toMatchObject({ text: 'total.p99<=2s', metric: 'total', statistic: { kind: 'percentile', percentile: 99 }, comparison: '<=', thresholdMs: 2000 });
    expect(parseObjective(' upload . median < 300ms ')).toMatchObject({ text: 'upload.p50<300ms', metric: 'upload', thresholdMs: 300 });
    expect(parseObjective('pacing.p99.9<=5ms')).toMatchObject({ metric: 'pacingError', statistic: { kind: 'percentile', percentile: 99.9 } });
    expect(parseObjective('detection.max<=1.5s')).toMatchObject({ statistic: { kind: 'max' }, thresholdMs: 1500 });
    expect(parseObjective('total.mean<=1m')).toMatchObject({ statistic: { kind: 'mean' }, thresholdMs: 60_000 });
  });

  it('refuses what it cannot judge, saying what to write (exit 2)', () => {
    const cases: [string, RegExp][] = [
      ['total<=2s', /write metric\.statistic<=threshold/],
      ['latency.p99<=2s', /unknown metric 'latency': use upload, detection, total or pacing/],
      ['total.p999<=2s', /unknown statistic 'p999'/],
      ['total.p99>=2s', /an objective is an upper bound/],
      ['total.p99<=2', /has no unit: write e\.g\. 2s or 2ms/],
      ['total.p99<=', /no threshold/],
    ];
    for (const [text, message] of cases) {
      let caught: unknown;
      try {
        parseObjective(text);
      } catch (error) {
        caught = error;
      }
      expect(caught, text).toMatchObject({ exitCode: 2 });
      expect((caught as Error).message, text).toMatch(message);
    }
  });

  it('reads several per flag, repeated flags and @file (comments allowed), each once', async () => {
    const file = join(scratch.path, 'slo.txt');
    await writeFile(file, '# the meeting objectives\ntotal.p50<=300ms\ntotal.p99<=2s, upload.p99<=1s\n');
    const objectives = await readObjectives(['total.p50<=300ms,detection.max<=1s', `@${file}`]);
    expect(objectives.map((objective) => objective.text)).toEqual(['total.p50<=300ms', 'detection.max<=1s', 'total.p99<=2s', 'upload.p99<=1s']);
    await expect(readObjectives([`@${join(scratch.path, 'none.txt')}`])).rejects.toMatchObject({ exitCode: 2 });
    await expect(readObjectives([' , '])).rejects.toThrow(/names no objective/);
  });

  it('fails an intact run that misses one (exit 6) with its own line; shows each objective met or missed', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 's1', chunks: 200, uploadLatencyMs: (seq) => (seq % 20 === 0 ? 5000 : 900) });
    const objectives = await readObjectives(['upload.p50<=1s,upload.p99<=1s,total.max<=1h']);
    const report = await buildReport([scratch.path], { objectives });
    expect(report.objectives.map((result) => result.met)).toEqual([true, false, true]);
    expect(report.verdict).toMatchObject({ ok: false, state: 'fail', exitCode: 6 });
    expect(verdictLine(report)).toMatch(/^FAIL: latency objective missed: upload\.p99 [\d.]+ s > 1 s; all 200 chunks uploaded/);
    const text = renderText(report);
    expect(text).toContain('latency objectives (1 missed)');
    expect(text).toMatch(/\n {2}upload\.p50 <= 1 s +900 ms +met\n/);
    expect(text).toMatch(/\n {2}upload\.p99 <= 1 s +[\d.]+ s +MISSED\n/);
    const error = verdictErrorFor(report);
    expect(error).toMatchObject({ exitCode: 6 });
    expect(error?.message).toMatch(/^rehearsal run s1 missed a latency objective \(exit 6; every chunk intact\): upload\.p99 /);

    const met = await buildReport([scratch.path], { objectives: await readObjectives(['upload.p50<=1s']) });
    expect(met.verdict).toMatchObject({ state: 'pass', exitCode: 0 });
    expect(renderText(met)).toContain('latency objectives (all met)');
  });

  it('keeps an integrity failure at exit 3, naming the missed objective too', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 's2', chunks: 20, missing: [4] });
    const report = await buildReport([scratch.path], { objectives: await readObjectives(['total.p50<=1ms']) });
    expect(report.verdict.exitCode).toBe(3);
    expect(report.verdict.summary).toMatch(/1 chunk missing.*; latency objective missed: total\.p50 /);
  });
});
