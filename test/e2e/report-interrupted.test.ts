import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli, wavefierBin, type CliResult } from '../helpers/cli.js';
import { scratchDirPerTest } from '../helpers/scratch.js';

const scratch = scratchDirPerTest('wavefier-report-');

/** Lines of `upload.jsonl` with a successful upload, in the only run under `logDir` (0 before it exists). */
async function uploadedSoFar(logDir: string): Promise<number> {
  const runs = existsSync(logDir) ? await readdir(logDir) : [];
  const file = runs[0] === undefined ? undefined : join(logDir, runs[0], 'upload.jsonl');
  if (file === undefined || !existsSync(file)) return 0;
  return (await readFile(file, 'utf8')).split('\n').filter((line) => line.includes('"event":"uploaded"')).length;
}

/** `wavefier rehearse`, sent SIGINT once `atUploads` chunks are uploaded, as an operator's Ctrl-C. */
async function interruptedRehearsal(logDir: string, atUploads: number): Promise<CliResult> {
  const child = spawn(
    process.execPath,
    [wavefierBin, 'rehearse', '--count', '400', '--rate-factor', '20', '--no-plots', '--log-dir', logDir],
    { cwd: repoRoot, env: { ...process.env, CI: '1', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    while ((await uploadedSoFar(logDir)) < atUploads) {
      if (child.exitCode !== null) break;
      await sleep(100);
    }
    child.kill('SIGINT');
    return await closed;
  } finally {
    clearTimeout(killer);
  }
}

describe('report of a rehearsal interrupted with Ctrl-C (built bin)', () => {
  it('says how far it got, counts nothing it did not produce as lost, and exits 130; the report exits 4', async () => {
    const logDir = join(scratch.path, 'rehearsals');
    const result = await interruptedRehearsal(logDir, 20);
    expect(result.stderr).toMatch(/SIGINT received, stopping gracefully/);
    // Both sides stopped because they were asked to: no warning about their exit codes.
    expect(result.stderr).not.toMatch(/exited with/);
    expect(result.code).toBe(130);
    const verdict = /\nINTERRUPTED after ([\d,]+) of 400 scheduled chunks: of those, ([\d,]+) verified, 0 lost, 0 corrupted(?:, ([\d,]+) in flight at the stop)?\n/.exec(result.stdout);
    expect(verdict, result.stdout).not.toBeNull();
    const [produced, verified, inFlight] = [verdict?.[1], verdict?.[2], verdict?.[3] ?? '0'].map(Number);
    expect(produced).toBeGreaterThanOrEqual(20);
    expect(produced).toBeLessThan(400);
    expect((verified ?? 0) + (inFlight ?? 0)).toBe(produced);
    expect(result.stdout).toContain('integrity (stopped early: upload was interrupted, download was interrupted)');
    expect(result.stdout).toMatch(/\n {2}not produced\s+[\d,]+ {2}the run stopped before them\n/);
    expect(result.stdout).not.toMatch(/^- /m);

    // The same logs read later: the same verdict, exit 4 and one line saying why.
    const [runId] = await readdir(logDir);
    const report = await runCli(['report', '--no-plots', join(logDir, runId ?? '')]);
    expect(report.code).toBe(4);
    expect(report.stdout).toContain(verdict?.[0]?.trim());
    expect(report.stderr).toMatch(/(?:^|\n)wavefier: error: rehearsal run \S+ is incomplete \(exit 4: stopped early, nothing it produced was lost\): interrupted after [\d,]+ of [\d,]+ scheduled chunks: .*; rerun it to the end for a pass$/m);

    const json = await runCli(['--json', 'report', '--no-plots', join(logDir, runId ?? '')]);
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      verdict: { state: 'interrupted', exit_code: 4 },
      completion: { state: 'interrupted', upload: 'interrupted', download: 'interrupted' },
      integrity: { scheduled: 400, missing: 0, corrupted: 0, failed_uploads: 0 },
    });
  }, 90_000);

  it('exits 4 when the rehearsal\'s own --deadline stops it with nothing lost', async () => {
    const result = await runCli(['rehearse', '--count', '400', '--rate-factor', '20', '--deadline', '7s', '--no-plots', '--log-dir', join(scratch.path, 'deadline')], { timeoutMs: 60_000 });
    expect(result.stderr).toMatch(/stopping upload, then download: deadline of 7\.00 s passed/);
    expect(result.code).toBe(4);
    expect(result.stdout).toMatch(/\nINTERRUPTED (?:after [\d,]+ of 400 scheduled chunks: of those, [\d,]+ verified, 0 lost, 0 corrupted|before any chunk was produced)/);
    expect(result.stderr).toMatch(/\nwavefier: error: rehearsal run \S+ is incomplete \(exit 4: stopped early, nothing it produced was lost\)/);
  }, 60_000);
});
