/**
 * `upload --lifetime` and `wavefier clean` against a real Rucio 1.31.7: the lifetime and the marker
 * as the official client reads them back, the stored files gone from the RSE's disk, the rule and
 * the dataset expiring as Rucio's own API makes them; a non-admin account is refused what the
 * generic policy refuses, and clean says so.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { hashPath, readJsonLines, realRucioForFile } from './peer.js';

const real = realRucioForFile();

async function upload(dataset: string, extra: string[] = []): Promise<string[]> {
  const result = await runCli(
    ['--json', 'upload', '--rse', 'LOCAL_POSIX', '--source', 'synthetic', '--as-fast-as-possible', '--count', '3', '--log-dir', join(real().dir, 'logs'), `wavefier:${dataset}`, ...extra],
    { env: real().env },
  );
  expect(result.stderr).not.toMatch(/error/i);
  expect(result.code).toBe(0);
  const summary = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as { logFile: string };
  return (await readJsonLines(summary.logFile)).filter((event) => event.event === 'uploaded').map((event) => String(event.name));
}

const onDisk = (name: string): boolean => existsSync(hashPath(real().info.rse_prefix, 'wavefier', name));

/** `rucio list-rules --csv`: id, account, did, state, rse expression, copies, expires at (UTC), created at. */
async function rules(did: string): Promise<{ rseExpression: string; expiresAt: string }[]> {
  const text = await real().rucioOk(['list-rules', '--csv', did]);
  return text.trim().split('\n').map((line) => {
    const cells = line.split(',');
    return { rseExpression: cells[4] ?? '', expiresAt: (cells[6] ?? '').replace(' ', 'T') };
  });
}

/** `rucio get-metadata`'s and `rucio get-metadata`'s "key: value" lines. */
function field(text: string, key: string): string | undefined {
  return new RegExp(`^${key}:\\s+(.*)$`, 'm').exec(text)?.[1]?.trim();
}

describe('upload --lifetime and wavefier clean on a real Rucio 1.31.7', { timeout: 240_000 }, () => {
  it('the dataset and its rule get the lifetime and the marker; clean deletes the files from the RSE, the rule and the dataset expire', async () => {
    const names = await upload('real-clean', ['--lifetime', '3h']);
    expect(names).toHaveLength(3);
    expect(names.every(onDisk)).toBe(true);
    const meta = await real().rucioOk(['get-metadata', 'wavefier:real-clean']);
    expect(field(meta, 'campaign')).toBe('wavefier-rehearsal');
    const expiresIn = (text: string | undefined): number => (Date.parse(`${text ?? ''}Z`) - Date.now()) / 3_600_000;
    expect(expiresIn(field(meta, 'expired_at'))).toBeGreaterThan(2.9);
    const [rule] = await rules('wavefier:real-clean');
    expect(rule?.rseExpression).toBe('LOCAL_POSIX');
    expect(expiresIn(rule?.expiresAt)).toBeGreaterThan(2.9);

    const dry = await runCli(['clean', 'wavefier:real-clean'], { env: real().env });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/files +3\n/);
    expect(dry.stdout).toMatch(/replicas +3 on LOCAL_POSIX/);
    expect(dry.stdout).toMatch(/dry run, nothing changed: --yes deletes 3 objects/);
    expect(names.every(onDisk)).toBe(true);

    const done = await runCli(['clean', 'wavefier:real-clean', '--yes'], { env: real().env });
    expect(done.stderr).not.toMatch(/error:|warning:/);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/storage +3 objects deleted/);
    expect(done.stdout).toMatch(/rule +[0-9a-f]{32} on LOCAL_POSIX: deleted/);
    expect(names.some(onDisk)).toBe(false);
    // Rucio's soft deletion: the rule now expires within the hour; the dataset has expired.
    const [after] = await rules('wavefier:real-clean');
    expect(expiresIn(after?.expiresAt)).toBeLessThanOrEqual(1);
    const stat = await real().rucioOk(['get-metadata', 'wavefier:real-clean']);
    expect(expiresIn(field(stat, 'expired_at'))).toBeLessThanOrEqual(0);
  });

  it('refuses a dataset made with the official client unless --force', async () => {
    await real().rucioOk(['add-dataset', 'wavefier:by-hand']);
    const refused = await runCli(['clean', 'wavefier:by-hand', '--yes'], { env: real().env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/was not created by wavefier/);
    const forced = await runCli(['clean', 'wavefier:by-hand', '--yes', '--force'], { env: real().env });
    expect(forced.code).toBe(0);
  });

  it('an account that is not an admin: the files it can reach are deleted, the rule and the erase are refused and said so (exit 1)', async () => {
    const names = await upload('real-clean-user');
    await real().rucioAdminOk(['account', 'add', '--type', 'USER', 'alice']);
    await real().rucioAdminOk(['identity', 'add', '--account', 'alice', '--type', 'USERPASS', '--id', 'alice', '--password', 'alice-secret', '--email', 'alice@example.org']);
    const done = await runCli(['clean', 'wavefier:real-clean-user', '--yes', '-a', 'alice', '-u', 'alice'], {
      env: { ...real().env, RUCIO_PASSWORD: 'alice-secret' },
    });
    expect(done.code).toBe(1);
    expect(done.stdout).toMatch(/storage +3 objects deleted/);
    expect(done.stderr).toMatch(/warning: rule [0-9a-f]{32} on LOCAL_POSIX kept: .*AccessDenied/);
    expect(done.stderr).toMatch(/error: clean of wavefier:real-clean-user incomplete: the dataset was not erased: .*AccessDenied/);
    expect(names.some(onDisk)).toBe(false);
  });
});
