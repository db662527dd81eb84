import { cp, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { fixturesDir } from '../fixtures/report/fixtures.js';
import { scratchDirPerTest } from '../helpers/scratch.js';

const scratch = scratchDirPerTest('wavefier-report-');
beforeEach(async () => {
  await cp(fixturesDir, scratch.path, { recursive: true, filter: (source) => !source.endsWith('.ts') });
});

describe('wavefier report (built bin)', () => {
  it('reports a clean run, writes plots and report.html next to the logs, and exits 0', async () => {
    const result = await runCli(['report', join(scratch.path, 'clean')]);
    expect(result.stderr).not.toMatch(/error/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^run run-clean, dataset [^\n]+\n {2}time +run /);
    expect(result.stdout).toMatch(/\nPASS: all 12 chunks uploaded, all downloaded, none corrupted; upload latency median [\d.]+ -[\d.]+ \+[\d.]+ s \(mean [\d.]+ s\), total median [\d.]+ s\n$/);
    expect(result.stderr).toMatch(/plots and report\.html written to .*clean\/run-clean\/report/);
    expect((await readdir(join(scratch.path, 'clean', 'run-clean', 'report'))).sort()).toContain('report.html');
  });

  it('exits 3 on a faulty run, with the listing, the malformed line on stderr and one error line', async () => {
    const result = await runCli(['report', '--list', '--no-plots', join(scratch.path, 'faulty')]);
    expect(result.code).toBe(3);
    expect(result.stdout.split('\n').slice(0, 5)).toEqual([
      '- V-V1_WAVEFIER-1400000002-1.hdf5  (never downloaded)',
      '* V-V1_WAVEFIER-1400000004-1.hdf5  (corrupted in 1 read(s))',
      '! V-V1_WAVEFIER-1400000006-1.hdf5  (upload failed)',
      '+ V-V1_WAVEFIER-1400000011-1.hdf5  (downloaded, not in the upload log)',
      '',
    ]);
    expect(result.stdout).toMatch(/\nFAIL: 1 chunk missing, 1 corrupted, 1 failed to upload \(8 of 12 scheduled chunks verified\)\n$/);
    expect(result.stderr).toMatch(/warning: .*run-faulty\/upload-ego-upload-2\.jsonl:\d+: truncated last line/);
    expect(result.stderr).toMatch(/\nwavefier: error: rehearsal run run-faulty failed its integrity check: 1 chunk missing, 1 corrupted, 1 failed to upload/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    await expect(readdir(join(scratch.path, 'faulty', 'report'))).rejects.toThrow(/ENOENT/);
  });

  it('gives one JSON object with --json, listing the malformed lines and the plot files', async () => {
    const plots = join(scratch.path, 'out');
    const result = await runCli(['--json', 'report', '--combined', '--plots', plots, join(scratch.path, 'faulty')]);
    expect(result.code).toBe(3);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const json = JSON.parse(lines[0] ?? '') as {
      ok: boolean;
      integrity: Record<string, number>;
      malformed: { count: number; lines: { file: string; line: number; reason: string }[] };
      listing: { status: string }[];
      plots: string[];
    };
    expect(json.ok).toBe(false);
    expect(json.integrity).toMatchObject({ scheduled: 12, missing: 1, corrupted: 1, recovered: 1, failed_uploads: 1, skipped: 1, late: 1, duplicate_uploads: 1, not_in_upload_log: 1 });
    expect(json.malformed.lines).toHaveLength(1);
    expect(json.malformed.count).toBe(1);
    expect(json.malformed.lines[0]?.reason).toMatch(/^truncated last line/);
    expect(json.listing).toHaveLength(11);
    expect(json.plots).toContain(join(plots, 'report.html'));
    const html = await readFile(join(plots, 'report.html'), 'utf8');
    expect(html).toContain('FAIL: 1 chunk missing, 1 corrupted, 1 failed to upload (8 of 12 scheduled chunks verified)');
  });

  it('merges several directories and picks the most recent run when asked nothing', async () => {
    const result = await runCli(['report', '--no-plots', scratch.path]);
    expect(result.stderr).toMatch(/no upload\*\.jsonl or download\*\.jsonl in/);
    // A directory without logs is the wrong directory: a usage error (README "Exit status", issue 14).
    expect(result.code).toBe(2);
    const both = await runCli(['report', '--no-plots', '--run', 'run-clean', join(scratch.path, 'faulty'), join(scratch.path, 'clean')]);
    expect(both.code).toBe(0);
    expect(both.stdout).toMatch(/^run run-clean/);
  });

  it('rejects bad input with exit 2 and a line that says what to do', async () => {
    const badWindow = await runCli(['report', '--window', 'soon', join(scratch.path, 'clean')]);
    expect(badWindow.code).toBe(2);
    expect(badWindow.stderr).toMatch(/invalid --window 'soon': use a number with a unit/);
    const absent = await runCli(['report', join(scratch.path, 'nowhere')]);
    expect(absent.code).toBe(2);
    expect(absent.stderr).toMatch(/cannot read log path .*nowhere.*pass an existing log or run directory/);
    const none = await runCli(['report']);
    expect(none.code).toBe(2);
  });
});
