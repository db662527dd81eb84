import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
