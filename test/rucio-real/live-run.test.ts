/**
 * A short live rehearsal against a real Rucio 1.31.7 server: `wavefier download` polls a dataset
 * that does not exist yet while `wavefier upload` paces chunks into it; `wavefier report` joins the
 * two logs; `wavefier doctor` checks the setup.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newRunId } from '../../src/common/run-id.js';
import { repoRoot, runCli, wavefierBin, type CliResult } from '../helpers/cli.js';
import { parseTable, readJsonLines, realRucioForFile } from './peer.js';

const real = realRucioForFile();

/** Starts `bin/wavefier`; `stderrSays` resolves once its stderr matches, `done` when it exits. */
function startCli(args: readonly string[], env: NodeJS.ProcessEnv): { stderrSays(pattern: RegExp): Promise<void>; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [wavefierBin, ...args], { cwd: repoRoot, env: { ...process.env, CI: '1', NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const watchers: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const watcher of watchers.filter((w) => w.pattern.test(stderr))) watcher.resolve();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    stderrSays: (pattern) =>
      Promise.race([
        new Promise<void>((resolve) => (pattern.test(stderr) ? resolve() : watchers.push({ pattern, resolve }))),
        done.then((result) => Promise.reject(new Error(`exited ${result.code} before printing ${pattern}: ${result.stderr}`))),
      ]),
    done,
  };
}

describe('a live paced run on a real Rucio server', { timeout: 180_000 }, () => {
  it('download polls while upload paces 8 chunks; both logs report PASS; the official client agrees', async () => {
    const run = newRunId();
    const dataset = `wavefier-${run}`;
    const logs = join(real().dir, 'logs');
    const env = real().env;

    const download = startCli(['--json', 'download', '--dataset', dataset, '--dest', join(real().dir, 'down'), '--until-closed', '--workers', '2', '--log-dir', logs], env);
    // Polling before the dataset exists (it says so), so everything after this is seen live.
    await download.stderrSays(new RegExp(`wavefier:${dataset}( to appear|.*not found)`));
    const upload = await runCli(['--json', 'upload', '--source', 'synthetic', '--rse', 'LOCAL_POSIX', '--count', '8', '--rate-factor', '2', '--close-dataset', '--run-id', run, '--log-dir', logs], { env });
    expect(upload.code, upload.stderr).toBe(0);
    const downloaded = await download.done;
    expect(downloaded.code, downloaded.stderr).toBe(0);
    const summary = JSON.parse(downloaded.stdout.trim().split('\n').at(-1) ?? '') as { verified: number; corrupted: number; polls: number; stopReason: string };
    expect(summary).toMatchObject({ verified: 8, corrupted: 0, stopReason: 'dataset closed and every chunk in it handled' });

    // Seen as they came: detected over several polls, not in one listing at the end.
    // The download logs under the dataset's name; the report joins the two sides by chunk, not by folder.
    const events = await readJsonLines(join(logs, dataset, 'download.jsonl'));
    const verified = events.filter((e) => e.event === 'verified');
    expect(verified).toHaveLength(8);
    expect(new Set(verified.map((e) => e.t_detected)).size).toBeGreaterThan(1);
    expect(summary.polls).toBeGreaterThan(1);
    expect((await readdir(join(real().dir, 'down', dataset))).length).toBe(8);

    const report = await runCli(['--json', 'report', '--no-plots', '--run', run, logs]);
    expect(report.code, report.stderr).toBe(0);
    const joined = JSON.parse(report.stdout) as {
      verdict: { state: string };
      integrity: { scheduled: number; uploaded: number; verified: number; missing: number; corrupted: number };
      latency: { total: { count: number } };
      header: { label: string; value: string }[];
    };
    expect(joined.verdict.state).toBe('pass');
    // Each side asked the server's version once at start-up (GET /ping); they agree, so the header says it once.
    expect(joined.header.find((field) => field.label === 'rucio')?.value).toMatch(/^http:\/\/127\.0\.0\.1:\d+, Rucio server 1\.31\.7$/);
    expect(joined.integrity).toMatchObject({ scheduled: 8, uploaded: 8, verified: 8, missing: 0, corrupted: 0 });
    expect(joined.latency.total.count).toBe(8);

    const content = parseTable(await real().rucioOk(['list-content', `wavefier:${dataset}`]));
    expect(content.map((row) => row['SCOPE:NAME']?.replace(/^wavefier:/, '')).sort()).toEqual(verified.map((e) => e.name).sort());
  });
});

describe('wavefier doctor on a real Rucio server', { timeout: 180_000 }, () => {
  it('passes every check, writing, reading back and deleting a probe on LOCAL_POSIX, and leaves nothing behind', async () => {
    const tree = async (): Promise<string[]> => (await readdir(real().info.rse_prefix, { recursive: true })).sort();
    const before = await tree();
    const result = await runCli(['doctor', '--rse', 'LOCAL_POSIX'], { env: real().env });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ok\s+reachability\s+Rucio 1\.31\.7 at http:\/\/127\.0\.0\.1:\d+/m);
    expect(result.stdout).toMatch(/^ok\s+authentication\s+authenticated as root \(userpass/m);
    expect(result.stdout).toMatch(/^ok\s+rse\s+LOCAL_POSIX: wrote, read back and deleted a probe object via file:\/\/localhost/m);
    // Neither the probe nor the hash directories it was written into (user/root/xx/yy).
    expect(await tree()).toEqual(before);
  });
});
