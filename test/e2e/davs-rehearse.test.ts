import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../../src/redis/index.js';
import { lfn2path } from '../../src/rucio/index.js';
import { runCli } from '../helpers/cli.js';
import { startDavs, type DavsServer } from '../helpers/davs.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';
import { readEvents } from '../helpers/stack.js';

/**
 * Rehearsals onto a real Apache httpd WebDAV server over TLS (../shared/peers/davs), with the
 * embedded lake as the catalog describing it as a davs RSE, as a user runs them: credentials from
 * the grid environment (X509_USER_PROXY, X509_CERT_DIR) or from flags (--bearer-token-file, --ca-cert).
 */

let davs: DavsServer;
let work: string;

beforeAll(async () => {
  davs = await startDavs();
  work = join(davs.dir, 'work');
  await mkdir(work, { recursive: true });
});

afterAll(async () => {
  await davs.stop();
});

/** Every file under `dir`, as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** `rehearse --json`: the report's object (docs/report.schema.json) with the rehearsal's own part. */
interface RehearseSummary {
  integrity: Record<string, unknown>;
  rehearsal: { run_dir: string };
}

function summaryOf(stdout: string): RehearseSummary {
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as RehearseSummary;
}

/** A grid user's environment, without anything of this machine's that could lend a credential. */
function gridEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { X509_USER_PROXY: '', X509_CERT_DIR: '', BEARER_TOKEN: '', BEARER_TOKEN_FILE: '', XDG_RUNTIME_DIR: work, ...extra };
}

describe('rehearse onto a davs RSE on Apache', () => {
  it('60 chunks with an RFC 3820 proxy (X509_USER_PROXY) and the grid CA directory (X509_CERT_DIR): PASS, every chunk on the server\'s disk', async () => {
    const base = `${davs.info.base_url}/dav/wavefier/`;
    const result = await runCli(
      ['--json', 'rehearse', '--count', '60', '--rate-factor', '20', '--log-dir', join(work, 'proxy'), '--davs-rse', base, '--no-plots'],
      { env: gridEnv({ X509_USER_PROXY: davs.info.proxy, X509_CERT_DIR: davs.info.ca_dir }), timeoutMs: 180_000 },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/WebDAV RSE LAKE_DAVS at davs:\/\/127\.0\.0\.1:\d+\/dav\/wavefier\//);
    const summary = summaryOf(result.stdout);
    expect(summary.integrity).toMatchObject({ scheduled: 60, uploaded: 60, verified: 60, corrupted: 0, missing: 0 });
    const uploaded = (await readEvents(summary.rehearsal.run_dir, 'upload')).filter((e) => e.event === 'uploaded');
    expect(uploaded).toHaveLength(60);
    // Where Rucio's `hash` lfn2pfn puts them under the prefix: <scope>/<md5[0:2]>/<md5[2:4]>/<name>, each with its bytes.
    const stored = await filesUnder(join(davs.info.root.dav, 'wavefier'));
    expect(stored.sort()).toEqual(uploaded.map((e) => lfn2path('wavefier', String(e.name))).sort());
    for (const event of uploaded.slice(0, 5)) {
      expect((await readFile(join(davs.info.root.dav, 'wavefier', lfn2path('wavefier', String(event.name))))).byteLength).toBe(event.bytes);
    }
    expect(await readFile(join(davs.info.dir, 'logs', 'access.log'), 'utf8')).toMatch(/CN=\d+,CN=davs tester \S+ .*"PUT \/dav\/wavefier\/wavefier\//);
  });

  it('20 chunks with a bearer token and the CA given by flags (--bearer-token-file, --ca-cert)', async () => {
    const result = await runCli(
      [
        '--json', 'rehearse', '--count', '20', '--rate-factor', '20', '--log-dir', join(work, 'token'), '--no-plots',
        '--davs-rse', `LAKE_TOKEN=${davs.info.base_url}/token/wavefier/`, '--bearer-token-file', davs.info.token_file, '--ca-cert', davs.info.ca_cert,
      ],
      { env: gridEnv({}), timeoutMs: 180_000 },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(summaryOf(result.stdout).integrity).toMatchObject({ scheduled: 20, verified: 20, corrupted: 0, missing: 0 });
    expect(await filesUnder(join(davs.info.root.token, 'wavefier'))).toHaveLength(20);
    expect(result.stderr).not.toContain(await davs.token());
  });

  it('refuses the Rucio connection flags other than the storage ones with an embedded lake, and --davs-rse with --external', async () => {
    const vo = await runCli(['rehearse', '--davs-rse', `${davs.info.base_url}/dav/x/`, '--vo', 'atlas'], { env: gridEnv({}) });
    expect(vo.code).toBe(2);
    expect(vo.stderr).toMatch(/--vo applies to --external only/);
    const external = await runCli(['rehearse', '--external', '--davs-rse', `${davs.info.base_url}/dav/x/`], { env: gridEnv({}) });
    expect(external.code).toBe(2);
    expect(external.stderr).toMatch(/--davs-rse describes a WebDAV RSE in the embedded lake: it does not go with --external/);
  });
});

describe('upload, corruption on the Apache side, download; doctor on the davs RSE', () => {
  let lake: TestLake;
  let redis: PrivateRedis;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    lake = await startTestLake({ davsRses: [{ url: `${davs.info.base_url}/dav/lake/` }] });
    redis = await startPrivateRedis({ persistence: 'none' });
    env = gridEnv({ RUCIO_HOME: lake.settings.rucioHome, X509_USER_PROXY: davs.info.proxy, X509_CERT_DIR: davs.info.ca_dir });
  });

  afterAll(async () => {
    await redis.stop();
    await lake.dispose();
  });

  it('detects a chunk corrupted in the server\'s data directory and names it (exit 3)', async () => {
    const run = `davs-${randomBytes(3).toString('hex')}`;
    const dataset = `wavefier-${run}`;
    const logs = join(work, 'corrupt');
    const up = await runCli(
      ['upload', '--source', 'synthetic', '--count', '8', '--as-fast-as-possible', '--rse', 'LAKE_DAVS', '--dataset', dataset, '--run-id', run, '--redis', redis.url, '--close-dataset', '--log-dir', logs],
      { env, timeoutMs: 90_000 },
    );
    expect(up.code, up.stderr).toBe(0);
    const uploaded = (await readEvents(join(logs, run), 'upload')).filter((e) => e.event === 'uploaded');
    expect(uploaded).toHaveLength(8);
    const victim = String(uploaded[3]!.name);
    const onDisk = join(davs.info.root.dav, 'lake', lfn2path('wavefier', victim));
    const bytes = await readFile(onDisk);
    const middle = bytes.length >> 1;
    bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
    await writeFile(onDisk, bytes);
    // The lake cannot do this itself: the objects of a davs RSE are on storage it does not run.
    const tamper = await fetch(`${lake.settings.rucioHost}/.lake/objects/corrupt`, {
      method: 'POST',
      headers: { 'X-Lake-Admin-Token': lake.settings.adminToken, 'Content-Type': 'application/json' },
      body: JSON.stringify({ scope: 'wavefier', name: victim, rse: 'LAKE_DAVS' }),
    });
    expect(tamper.status).toBe(409);
    expect(await tamper.text()).toMatch(/RSE 'LAKE_DAVS' keeps its objects on storage the lake does not run \(davs:\/\/127\.0\.0\.1:\d+\/dav\/lake\/wavefier\//);

    const down = await runCli(
      ['--json', 'download', '--dataset', dataset, '--until-closed', '--keep', 'none', '--corruption-retries', '1', '--redis', redis.url, '--log-dir', logs],
      { env, timeoutMs: 90_000 },
    );
    expect(down.code, down.stderr).toBe(3);
    const corrupted = (await readEvents(join(logs, dataset), 'download')).filter((e) => e.event === 'corrupted');
    expect(new Set(corrupted.map((e) => e.name))).toEqual(new Set([victim]));
    const verified = (await readEvents(join(logs, dataset), 'download')).filter((e) => e.event === 'verified');
    expect(verified).toHaveLength(7);
  });

  it('doctor writes, reads back and deletes a probe on the davs RSE, says what it presented, and leaves no collection behind', async () => {
    const result = await runCli(['doctor', '--rse', 'LAKE_DAVS'], { env, timeoutMs: 60_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`ok\\s+rse\\s+LAKE_DAVS: wrote, read back and deleted a probe object via davs://127\\.0\\.0\\.1:\\d+, presenting X\\.509 proxy ${davs.info.proxy.replaceAll('.', '\\.')} \\(env X509_USER_PROXY\\)`),
    );
    // The probe's scope user.root becomes user/root/<hash>/<hash>: none of it is left.
    expect(existsSync(join(davs.info.root.dav, 'lake', 'user'))).toBe(false);

    const refused = await runCli(['doctor', '--rse', 'LAKE_DAVS'], { env: { ...env, X509_USER_PROXY: '' }, timeoutMs: 60_000 });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/FAIL\s+rse\s+storage put of davs:\S+ failed: HTTP 403 Forbidden: nothing was presented/);
  });
});
