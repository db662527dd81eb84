import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { readEvents } from '../helpers/stack.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wavefier-rehearse-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('wavefier rehearse, as a newcomer runs it', () => {
  it('runs a short rehearsal end to end, exits 0, and its report agrees with the logs', async () => {
    const result = await runCli(['--json', 'rehearse', '--count', '30', '--rate-factor', '30', '--plots', '--log-dir', dir], { timeoutMs: 120_000 });
    expect(result.stderr).not.toMatch(/error:/);
    expect(result.code).toBe(0);
    // The same object as `wavefier --json report` prints, with the rehearsal's own part.
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
      command: string;
      integrity: Record<string, unknown>;
      rehearsal: { run_dir: string; html: string | null };
    };
    expect(summary.command).toBe('rehearse');
    const uploads = await readEvents(summary.rehearsal.run_dir, 'upload');
    const downloads = await readEvents(summary.rehearsal.run_dir, 'download');
    const uploaded = uploads.filter((event) => event.event === 'uploaded');
    const verified = downloads.filter((event) => event.event === 'verified');
    expect(uploaded).toHaveLength(30);
    expect(verified).toHaveLength(30);
    expect(summary.integrity).toMatchObject({ scheduled: 30, uploaded: 30, verified: 30, corrupted: 0, missing: 0 });
    expect(summary.rehearsal.html).not.toBeNull();
    expect(existsSync(summary.rehearsal.html ?? '')).toBe(true);
    expect(existsSync(join(summary.rehearsal.run_dir, 'report', 'upload-latency.png'))).toBe(true);
  });

  it('exits 3 and names the chunks when stored objects are corrupted', async () => {
    const faults = JSON.stringify({ storage: [{ method: 'PUT', corruptWriteBurst: 2 }] });
    const result = await runCli(
      ['rehearse', '--count', '12', '--rate-factor', '30', '--log-dir', dir, '--faults', faults, '--download-args', '--corruption-retries 1', '--no-plots'],
      { timeoutMs: 120_000 },
    );
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/corrupted\s+2/);
    // The two corrupted chunks are named, and they are the ones the download log saw corrupted.
    const listed = [...result.stdout.matchAll(/^\* (\S+\.hdf5)/gm)].map((match) => match[1]);
    expect(listed).toHaveLength(2);
    const runDir = /run directory\s+(\S+)/.exec(result.stdout)![1]!;
    const corrupted = (await readEvents(runDir, 'download')).filter((event) => event.event === 'corrupted');
    expect(new Set(corrupted.map((event) => event.name))).toEqual(new Set(listed));
    expect(result.stderr).toMatch(/rehearsal \S+ is not clean/);
  });
});
