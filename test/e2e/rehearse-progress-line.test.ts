import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/*
 * Without a terminal (a log, CI, a pipe), `rehearse` prints a progress line on stderr every
 * --progress-interval (a minute by default): the counts so far, as the report counts them.
 */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wavefier-rehearse-progress-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface ProgressLine {
  elapsed: string;
  produced: number;
  scheduled: number;
  uploaded: number;
  failed: number;
  skipped: number;
  verified: number;
  corrupted: number;
  missing: number;
}

const progressPattern =
  /^progress (\S+ \S+): upload (\d+)\/(\d+) produced, (\d+) uploaded, (\d+) failed, (\d+) skipped, queue \d+, [\d.]+ chunks\/s, latency (?:-|p50 \S+ \S+ {2}p99 \S+ \S+); download (\d+) verified, (\d+) corrupted, (\d+) missing, queue \d+, [\d.]+ chunks\/s, total (?:-|p50 \S+ \S+ {2}p99 \S+ \S+); (?:ETA .+|ETA unknown)$/;

function progressLines(stderr: string): ProgressLine[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('progress '))
    .map((line) => {
      const match = progressPattern.exec(line);
      if (match === null) throw new Error(`a progress line not in the documented form: ${line}`);
      const n = (index: number): number => Number(match[index]);
      return { elapsed: match[1] ?? '', produced: n(2), scheduled: n(3), uploaded: n(4), failed: n(5), skipped: n(6), verified: n(7), corrupted: n(8), missing: n(9) };
    });
}

describe('rehearse without a terminal: a progress line every --progress-interval', () => {
  it('prints the counts so far, never more than the final report counts, growing line by line', async () => {
    const result = await runCli(['rehearse', '--count', '50', '--rate-factor', '10', '--progress-interval', '1s', '--no-plots', '--log-dir', dir], { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    const lines = progressLines(result.stderr);
    // Five seconds of pacing plus the start-up and the last downloads: a line a second.
    expect(lines.length, result.stderr).toBeGreaterThanOrEqual(4);
    const runDir = /^run directory +(\S+)$/m.exec(result.stdout)?.[1] ?? '';
    const report = await runCli(['--json', 'report', '--no-plots', runDir]);
    expect(report.code, report.stderr).toBe(0);
    const final = (JSON.parse(report.stdout) as { integrity: { scheduled: number; uploaded: number; verified: number; corrupted: number; missing: number } }).integrity;
    expect(final).toMatchObject({ scheduled: 50, uploaded: 50, verified: 50, corrupted: 0, missing: 0 });
    let previous: ProgressLine | undefined;
    for (const line of lines) {
      expect(line.scheduled).toBe(final.scheduled);
      expect(line.produced).toBeLessThanOrEqual(line.scheduled);
      expect(line.uploaded).toBeLessThanOrEqual(Math.min(line.produced, final.uploaded));
      expect(line.verified).toBeLessThanOrEqual(Math.min(line.uploaded, final.verified));
      expect([line.failed, line.skipped, line.corrupted, line.missing]).toEqual([0, 0, 0, 0]);
      if (previous !== undefined) {
        expect(line.produced).toBeGreaterThanOrEqual(previous.produced);
        expect(line.uploaded).toBeGreaterThanOrEqual(previous.uploaded);
        expect(line.verified).toBeGreaterThanOrEqual(previous.verified);
      }
      previous = line;
    }
    // The run was seen under way: some line has chunks produced but not all verified yet.
    expect(lines.some((line) => line.produced > 0 && line.verified < final.verified)).toBe(true);
  });

  it('refuses an interval under a second, or without a unit, before anything starts (exit 2)', async () => {
    for (const value of ['500ms', '5']) {
      const result = await runCli(['rehearse', '--progress-interval', value, '--log-dir', dir]);
      expect(result.code, value).toBe(2);
      expect(result.stderr).toMatch(/^wavefier: error: .*--progress-interval/m);
    }
  });
});
