import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderIssueTargets } from '../../tools/bench/issue-targets.js';
import { updateMarkdown, writeJsonResults } from '../../tools/bench/report.js';
import { meetsTarget } from '../../tools/bench/targets.js';
import type { BenchmarkResult, MachineInfo } from '../../tools/bench/types.js';
import { scratchDir } from '../fixtures/strain/files.js';

const scratch = scratchDir('bench-report');
afterAll(() => scratch.cleanup());

const machine: MachineInfo = { cpuModel: 'Test CPU', cpuCount: 2, memoryGiB: 4, node: 'v20.0.0', platform: 'linux x64', loadAverage: 0.5, commit: 'abc1234' };

function result(name: string, value: number): BenchmarkResult {
  return {
    name,
    title: `${name} title`,
    description: `${name} description`,
    startedAt: '2026-11-26T15:00:00.000Z',
    durationMs: 1234,
    peakRssMb: 80,
    metrics: [{ name: 'pacing p99', value, unit: 'ms', target: '<= 5', met: value <= 5 }],
  };
}

describe('benchmark targets', () => {
  it('evaluates comparison targets', () => {
    expect(meetsTarget(3.1, '<= 5')).toBe(true);
    expect(meetsTarget(5.1, '<= 5')).toBe(false);
    expect(meetsTarget(1000, '>= 1000')).toBe(true);
    expect(meetsTarget(99.9, '< 100')).toBe(true);
    expect(meetsTarget(0, '== 0')).toBe(true);
    expect(meetsTarget(1, 'fast')).toBeUndefined();
  });
});

describe('BENCHMARKS.md and bench-results', () => {
  it('adds a section per benchmark and replaces only that section on a rerun', () => {
    const root = scratch.dir;
    updateMarkdown(root, machine, [result('alpha', 3.1), result('beta', 7)]);
    const first = readFileSync(join(root, 'BENCHMARKS.md'), 'utf8');
    expect(first).toMatch(/^# Benchmarks/);
    expect(first).toContain('Test CPU (2 CPUs), 4 GiB memory, Node v20.0.0, linux x64, load average 0.5 at the start, commit abc1234');
    expect(first).toContain('| pacing p99 | 3.10 | ms | <= 5 | yes |');
    expect(first).toContain('| pacing p99 | 7 | ms | <= 5 | **no** |');

    // A hand-written note outside the sections survives.
    writeFileSync(join(root, 'BENCHMARKS.md'), `${first}\nNotes kept by hand.\n`);
    updateMarkdown(root, machine, [result('beta', 4)]);
    const second = readFileSync(join(root, 'BENCHMARKS.md'), 'utf8');
    expect(second).toContain('| pacing p99 | 3.10 | ms | <= 5 | yes |');
    expect(second).toContain('| pacing p99 | 4 | ms | <= 5 | yes |');
    expect(second).not.toContain('| 7 |');
    expect(second).toContain('Notes kept by hand.');
    expect(second.match(/<!-- bench:beta:start -->/g)).toHaveLength(1);
  });

  it('writes a dated JSON file with the machine and the results', () => {
    const path = writeJsonResults(scratch.dir, machine, [result('alpha', 1)], new Date('2026-11-26T15:49:11.123Z'));
    expect(path.endsWith(join('bench-results', '2026-11-26T15-49-11Z.json'))).toBe(true);
    expect(readdirSync(join(scratch.dir, 'bench-results'))).toContain('2026-11-26T15-49-11Z.json');
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { machine: MachineInfo; results: BenchmarkResult[] };
    expect(parsed.machine.cpuModel).toBe('Test CPU');
    expect(parsed.results[0]?.metrics[0]?.value).toBe(1);
  });
});

describe("issue 16's targets table", () => {
  const withKeys = (name: string, startedAt: string, metrics: { key: string; value: number }[]): BenchmarkResult => ({
    ...result(name, 1),
    startedAt,
    metrics: metrics.map((metric) => ({ name: metric.key, unit: 'ms', ...metric })),
  });

  it('fills each row from the newest result of its benchmark, this run or bench-results/, and says what was not measured', () => {
    const root = join(scratch.dir, 'targets');
    const older = withKeys('latency-1hz', '2026-11-26T10:00:00.000Z', [
      { key: 'total.p50', value: 35 },
      { key: 'total.p99', value: 150 },
      { key: 'requests', value: 1.02 },
      { key: 'load.before', value: 0.4 },
      { key: 'load.after', value: 0.9 },
    ]);
    writeJsonResults(root, machine, [older], new Date('2026-11-26T10:00:00.000Z'));
    const replay = withKeys('replay-14400', '2026-11-26T11:00:00.000Z', [
      { key: 'wall', value: 28.5 },
      { key: 'cpu', value: 4.4 },
      { key: 'lost', value: 0 },
      { key: 'corrupted', value: 0 },
      { key: 'cpu.lake', value: 1.2 },
      { key: 'rss.lake', value: 120 },
      // The replay's own trend is informative: memory-paced's judges.
      { key: 'trend.lake', value: 30 },
      { key: 'cpu.download-worker #1', value: 0.6 },
      { key: 'rss.download-worker #1', value: 130 },
      { key: 'cpu.upload', value: 1.1 },
      { key: 'rss.upload', value: 210 },
    ]);
    const paced = withKeys('memory-paced', '2026-11-26T12:00:00.000Z', [
      { key: 'rss.lake', value: 110 },
      { key: 'trend.lake', value: 1.5 },
      { key: 'per-chunk.lake', value: 437 },
      { key: 'rss.download-worker #1', value: 125 },
      { key: 'trend.download-worker #1', value: 9 },
      { key: 'per-chunk.download-worker #1', value: 2621 },
      { key: 'rss.upload', value: 150 },
      { key: 'trend.upload', value: 0.5 },
      { key: 'per-chunk.upload', value: 146 },
    ]);
    const table = renderIssueTargets(root, [replay, paced], 3.5);
    expect(table).toContain('| total latency at 1 Hz, default settings: median | <= 40 | 35 | yes | latency-1hz 2026-11-26T10:00Z | 0.400 → 0.900 |');
    expect(table).toContain('| total latency at 1 Hz, default settings: p99 | <= 120 | 150 | **no** |');
    expect(table).toContain('| catalog requests per chunk at 1 Hz (steady state) | <= 1.5 | 1.02 | yes |');
    expect(table).toContain('| total latency at rate factor 10 (rehearse defaults): median | <= 60 | not measured |');
    expect(table).toContain('| catalog requests per chunk at 1 Hz against a real Rucio 1.31.7 (steady state, counted on the wire) | <= 1.5 | not measured |');
    expect(table).toContain('| 14,400-chunk replay, upload + download, 2 cores: wall time (s) | <= 30 | 28.50 | yes | replay-14400 2026-11-26T11:00Z | 3.50 at the start |');
    expect(table).toContain('| 14,400-chunk replay: CPU per chunk, all processes (ms) | <= 4 | 4.40 | **no** |');
    expect(table).toContain('| 14,400-chunk replay: chunks lost / corrupted | == 0 | 0 / 0 | yes |');
    expect(table).toContain('| lake | 1.20 | 120 | 110 | 1.50 | 437 | yes |');
    expect(table).toContain('| download-worker #1 | 0.600 | 130 | 125 | 9 | 2621 | **no** |');
    // Flat in the paced run, but above 200 MB in the replay.
    expect(table).toContain('| upload | 1.10 | 210 | 150 | 0.500 | 146 | **no** |');
  });
});
