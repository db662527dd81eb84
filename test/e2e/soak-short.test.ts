import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';
import { scratchDirPerTest } from '../helpers/scratch.js';
import { faultKinds } from '../../tools/soak/schedule.js';

interface Summary {
  ok: boolean;
  exit_code: number;
  count: number;
  counts: { scheduled: number; uploaded: number; verified: number; detectedCorrupt: number; corruptStored: number; corruptedWrites: number; lost: number; datasetFiles: number };
  checks: { id: string; ok: boolean; summary: string }[];
  faults: { kind: string; injected: boolean; progress: number; outcome: string }[];
  lake_counters: { catalog: { errors: number; delayed: number }; storage: { errors: number; corruptedWrites: number } };
  report: { exit_code: number };
  files: { summary: string; report: string; reportJson: string };
}

function runSoakCli(args: readonly string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'build/tools/soak/run.js'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, CI: '1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// A failed soak keeps its run directory (logs, processes' stderr, summary) for the post-mortem.
const scratch = scratchDirPerTest('wavefier-soak-', { keepOnFailure: true });

describe('the short soak (every fault kind, a few hundred chunks)', () => {
  it('recovers from every injected fault: nothing lost, every corruption detected, no duplicates', async () => {
    // 2% corruption so that a few hundred chunks reliably include some corrupted objects.
    const result = await runSoakCli(['--count', '300', '--rate-factor', '25', '--corrupt-rate', '0.02', '--log-dir', scratch.path, '--json', '--deadline', '100s'], 115_000);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as Summary;
    const failed = summary.checks.filter((check) => !check.ok).map((check) => `${check.id}: ${check.summary}`);
    expect(failed, result.stderr.slice(-3000)).toEqual([]);
    expect(result.code).toBe(0);
    expect(summary.ok).toBe(true);

    // Every fault kind fired, mid-run, and did something.
    expect(new Set(summary.faults.map((f) => f.kind))).toEqual(new Set(faultKinds));
    for (const fault of summary.faults) {
      expect(fault.injected, `${fault.kind}: ${fault.outcome}`).toBe(true);
      expect(fault.progress).toBeGreaterThan(0);
      expect(fault.progress).toBeLessThan(300);
    }
    expect(summary.lake_counters.catalog.errors).toBeGreaterThan(0);
    expect(summary.lake_counters.catalog.delayed).toBeGreaterThan(0);
    expect(summary.lake_counters.storage.errors).toBeGreaterThan(0);

    // Accounted for: each chunk verified or its stored corruption detected, the counts agree.
    const c = summary.counts;
    expect(c).toMatchObject({ scheduled: 300, uploaded: 300, lost: 0, datasetFiles: 300 });
    expect(c.verified + c.detectedCorrupt).toBe(300);
    expect(c.detectedCorrupt).toBe(c.corruptStored);
    // A corrupted write can be overwritten intact by a retried upload (the verdict's read-back proves
    // which); every corruption still in storage was detected.
    expect(c.detectedCorrupt).toBeLessThanOrEqual(summary.lake_counters.storage.corruptedWrites);
    // The report itself exits 3 when corruption was injected (detected corruption is still bad data).
    expect(summary.report.exit_code).toBe(c.detectedCorrupt > 0 ? 3 : 0);

    for (const file of Object.values(summary.files)) expect(existsSync(file)).toBe(true);
    expect(JSON.parse(await readFile(summary.files.summary, 'utf8'))).toMatchObject({ ok: true, count: 300 });
    expect(result.stderr).toMatch(/fault at \d+\.\d% \(\d+\/300\)/);
  }, 120_000);

  it('fails its verdict (exit 3) and says why when the run cannot complete', async () => {
    // A deadline far shorter than the pacing stops everything mid-run: chunks are lost.
    const result = await runSoakCli(['--count', '100', '--rate-factor', '10', '--log-dir', scratch.path, '--deadline', '3s', '--schedule', '[{"at":0.9,"kind":"restart-redis"}]'], 60_000);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/FAIL\s+lost\s+\d+ of 100 scheduled chunks/);
    expect(result.stdout).toMatch(/FAIL\s+faults-injected/);
    expect(result.stdout).toMatch(/verdict: FAIL: .*lost/);
    expect(result.stderr).toMatch(/deadline of 3(\.00)? s passed/);
  }, 60_000);

  it('still gives its verdict when stopped before any process wrote a log', async () => {
    // On a busy machine a short deadline can pass before the children have started: no log, no report.
    const result = await runSoakCli(['--count', '100', '--rate-factor', '10', '--log-dir', scratch.path, '--deadline', '1ms'], 60_000);
    expect(result.stderr).not.toMatch(/soak: error/);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/FAIL\s+lost\s+100 of 100 scheduled chunks/);
    // Children stopped through their owner's pipe end their logs even this early (issue 14): then the
    // report says nothing was produced; a child stopped before it wrote its first line leaves no log.
    expect(result.stdout).toMatch(/\nno report: no process of the run wrote a log before it stopped|\nINTERRUPTED before any chunk was produced/);
  }, 60_000);

  it('exits 2 on a bad option, before starting anything', async () => {
    const result = await runSoakCli(['--count', 'lots'], 20_000);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/soak: error: invalid soak options: .*count/);
  });
});
