import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack.dispose();
});

const cli = (args: string[]) => runCli(args, { env: stack.env, timeoutMs: 90_000 });

async function upload(dataset: string, extra: string[] = []): Promise<void> {
  const result = await cli([
    'upload', '--source', 'synthetic', '--rse', 'LAKE_S3', '--redis', stack.redis.url, '--count', '4', '--as-fast-as-possible',
    '--log-dir', join(stack.dir, 'logs'), `wavefier:${dataset}`, ...extra,
  ]);
  expect(result.stderr).not.toMatch(/error:/);
  expect(result.code).toBe(0);
}

/** Each replica of the dataset with whether its object is in storage now. */
async function storedObjects(dataset: string): Promise<{ rse: string; stored: boolean }[]> {
  const out: { rse: string; stored: boolean }[] = [];
  for await (const record of stack.rucio.listReplicas({ dids: [{ scope: 'wavefier', name: dataset }], allStates: true })) {
    for (const pfn of record.pfns) {
      const store = await stack.rucio.storage.forPfn(pfn.rse, pfn.pfn);
      out.push({ rse: pfn.rse, stored: (await store.stat(pfn.pfn)) !== undefined });
    }
  }
  return out;
}

async function rucioJson(path: string): Promise<unknown> {
  const response = await stack.lake.rucio(path);
  expect(response.status).toBe(200);
  const text = await response.text();
  return path.endsWith('/rules') ? text.trim().split('\n').map((line) => JSON.parse(line) as unknown) : JSON.parse(text);
}

const hours = (ms: number): number => ms / 3_600_000;

describe('upload --lifetime and wavefier clean, on the embedded lake', () => {
  it('gives the dataset and both rules (--replicate-to too) their lifetime and the wavefier marker', async () => {
    const before = Date.now();
    await upload('clean-lifetime', ['--lifetime', '2h', '--replicate-to', 'LAKE_POSIX']);
    const did = (await rucioJson('/dids/wavefier/clean-lifetime')) as { expired_at: string };
    expect(hours(Date.parse(did.expired_at) - before)).toBeGreaterThan(1.99);
    expect(hours(Date.parse(did.expired_at) - Date.now())).toBeLessThanOrEqual(2);
    const rules = (await rucioJson('/dids/wavefier/clean-lifetime/rules')) as { rse_expression: string; expires_at: string }[];
    expect(rules.map((rule) => rule.rse_expression).sort()).toEqual(['LAKE_POSIX', 'LAKE_S3']);
    for (const rule of rules) expect(hours(Date.parse(rule.expires_at) - before)).toBeGreaterThan(1.99);
    const meta = (await rucioJson('/dids/wavefier/clean-lifetime/meta')) as Record<string, unknown>;
    expect(meta.campaign).toBe('wavefier-rehearsal');

    const bad = await cli(['upload', '--source', 'synthetic', '--rse', 'LAKE_S3', '--count', '1', '--lifetime', '30']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid --lifetime '30': give a unit/);
  });

  it('clean: a dry run by default, --yes deletes the objects and rules and erases the dataset; again, it finds nothing left', async () => {
    await upload('clean-me');
    expect(await storedObjects('clean-me')).toEqual(Array(4).fill({ rse: 'LAKE_S3', stored: true }));

    const dry = await cli(['clean', 'wavefier:clean-me']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/dataset +wavefier:clean-me, account root, created by wavefier/);
    expect(dry.stdout).toMatch(/files +4\n/);
    expect(dry.stdout).toMatch(/replicas +4 on LAKE_S3 \(\d+(\.\d)? kB\)/);
    expect(dry.stdout).toMatch(/rules +1\n +[0-9a-f]{32} +LAKE_S3 +OK, account root/);
    expect(dry.stdout).toMatch(/dry run, nothing changed: --yes deletes 4 objects \(.+\) from storage, 1 rule, and erases the dataset/);
    expect(await storedObjects('clean-me')).toEqual(Array(4).fill({ rse: 'LAKE_S3', stored: true }));

    const started = Date.now();
    const done = await cli(['clean', 'wavefier:clean-me', '--yes']);
    expect(done.stderr).not.toMatch(/error:|warning:/);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/storage +4 objects deleted \(.+ kB\), 0 already absent, 0 failed/);
    expect(done.stdout).toMatch(/rule +[0-9a-f]{32} on LAKE_S3: deleted \(Rucio expires it within the hour/);
    expect(done.stdout).toMatch(/dataset +wavefier:clean-me erased \(lifetime 0\)/);
    expect(await storedObjects('clean-me')).toEqual(Array(4).fill({ rse: 'LAKE_S3', stored: false }));
    // As Rucio: the rule expires within the hour, the dataset now; the catalog keeps both until its daemons run.
    const [rule] = (await rucioJson('/dids/wavefier/clean-me/rules')) as { expires_at: string }[];
    const expires = Date.parse(rule?.expires_at ?? '');
    // An hour after the deletion, which happened while clean ran (RFC 1123 keeps whole seconds).
    expect(expires).toBeGreaterThanOrEqual(started + 3_600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 3_600_000);
    const did = (await rucioJson('/dids/wavefier/clean-me')) as { expired_at: string };
    expect(Date.parse(did.expired_at)).toBeLessThanOrEqual(Date.now());

    const again = await cli(['--json', 'clean', 'wavefier:clean-me', '--yes']);
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout) as { event: string; files: number; result: Record<string, unknown> };
    expect(result.event).toBe('clean_result');
    expect(result.files).toBe(4);
    expect(result.result).toMatchObject({ objects_deleted: 0, objects_absent: 4, objects_failed: 0, bytes_deleted: 0, erased: true });
  });

  it('refuses a dataset wavefier did not create unless --force, and a DID that is not there or not a dataset', async () => {
    const created = await stack.lake.rucio('/dids/wavefier/made-by-hand', { method: 'POST', body: JSON.stringify({ type: 'DATASET' }) });
    expect(created.status).toBe(201);
    const refused = await cli(['clean', 'wavefier:made-by-hand', '--yes']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/wavefier:made-by-hand was not created by wavefier \(its metadata has no campaign=wavefier-rehearsal\); .* add --force/);
    const forced = await cli(['clean', 'wavefier:made-by-hand', '--yes', '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/storage +0 objects deleted/);

    const missing = await cli(['clean', 'wavefier:no-such-dataset']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no dataset wavefier:no-such-dataset at http:\/\/127\.0\.0\.1:\d+: check the DID/);
    const none = await cli(['clean']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/which dataset\?/);
  });
});
