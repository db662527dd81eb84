import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestLake } from '../helpers/lake.js';

/*
 * `rehearse --lifetime`: the rehearsal's dataset and its rule expire (issue 19, item 6). The
 * embedded lake runs no daemons, so nothing is deleted; its catalog, opened again from the run's
 * lake directory after the rehearsal, says when they expire.
 */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wavefier-rehearse-lifetime-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const hours = (ms: number): number => ms / 3_600_000;

describe('rehearse --lifetime', () => {
  it("gives the rehearsal's dataset and its rule the lifetime, on the embedded lake", async () => {
    const before = Date.now();
    const result = await runCli(['--json', 'rehearse', '--count', '5', '--rate-factor', '20', '--lifetime', '2h', '--no-plots', '--log-dir', dir], { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as { run: { dataset: string; scope: string }; rehearsal: { run_dir: string } };
    const lake = await startTestLake({ dir: join(summary.rehearsal.run_dir, 'lake') });
    try {
      const didPath = `/dids/${summary.run.scope}/${summary.run.dataset}`;
      const did = (await (await lake.rucio(didPath)).json()) as { expired_at: string | null; length: number | null };
      expect(hours(Date.parse(did.expired_at ?? '') - before)).toBeGreaterThan(1.99);
      expect(hours(Date.parse(did.expired_at ?? '') - Date.now())).toBeLessThanOrEqual(2);
      const rules = (await (await lake.rucio(`${didPath}/rules`)).text())
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { rse_expression: string; expires_at: string | null });
      expect(rules.map((rule) => rule.rse_expression)).toEqual(['LAKE_S3']);
      for (const rule of rules) expect(hours(Date.parse(rule.expires_at ?? '') - before)).toBeGreaterThan(1.99);
    } finally {
      await lake.dispose();
    }
  });

  it('refuses a lifetime without a unit before anything starts (exit 2)', async () => {
    const result = await runCli(['rehearse', '--lifetime', '7', '--log-dir', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^wavefier: error: .*--lifetime '7'/m);
  });
});
