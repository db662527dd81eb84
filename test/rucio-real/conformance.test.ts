/**
 * Differential conformance: one scripted sequence of official-client commands (what a rehearsal
 * operator types) and of the raw REST calls wavefier makes runs against a real Rucio 1.31.7 server
 * and against the embedded lake (`wavefier lake serve`); the outputs must be the same up to ids,
 * timestamps, hosts and state directories. The real server is set up with the lake's RSEs (same
 * protocols and attributes), so every difference left is one of behaviour.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnLakeServe } from '../helpers/lake-serve.js';
import { normalise, officialClient, restCall, type RestAnswer, type Target } from './differential.js';
import { cleanupOnExit, fileSums, realRucioForFile } from './peer.js';

const real = realRucioForFile();

interface LakeReady {
  rucioHost: string;
  username: string;
  password: string;
  dir: string;
  rucioCfgPath: string;
  s3: { accessKeyId: string; secretAccessKey: string; region: string };
  storageCa: { caCert: string; caDir: string };
}

let rucio: Target;
let lake: Target;
let lakeDir: string;
let lakeReady: LakeReady;
/**
 * The real server's S3 RSEs point at the lake's storage too (a real Rucio has no storage of its own),
 * under a key prefix of their own so that the two sides' uploads of the same DIDs do not meet.
 */
const realSideKeys = 'rucio-side/';
let stopLake: () => Promise<void> = () => Promise.resolve();
const tokens = new Map<Target, string>();

/** Starts `wavefier lake serve` and waits for its ready line; stopped with SIGTERM (and by the watchdog if this process dies). */
async function startLakeServe(dir: string): Promise<LakeReady> {
  const lakeServe = spawnLakeServe(['--dir', dir]);
  const watchdog = cleanupOnExit(`kill ${lakeServe.child.pid ?? 0} 2>/dev/null; true`);
  stopLake = async () => {
    lakeServe.child.kill('SIGTERM');
    await lakeServe.exited;
    watchdog.end();
  };
  return lakeServe.ready<LakeReady>(60_000);
}

async function token(target: Target): Promise<string> {
  const cached = tokens.get(target);
  if (cached !== undefined) return cached;
  const response = await fetch(`${target.host}/auth/userpass`, {
    headers: { 'X-Rucio-Account': 'root', 'X-Rucio-Username': target.username, 'X-Rucio-Password': target.password },
  });
  const value = response.headers.get('x-rucio-auth-token');
  if (value === null) throw new Error(`${target.label}: no token (${response.status})`);
  tokens.set(target, value);
  return value;
}

/** Gives the real server the lake's RSEs: same names, protocols, attributes, and an unlimited quota for root. */
async function mirrorLakeRses(): Promise<void> {
  const lakeToken = await token(lake);
  const signing: Record<string, true> = {};
  const rseNames = ((await (await fetch(`${lake.host}/rses/`, { headers: { 'X-Rucio-Auth-Token': lakeToken } })).text()).trim().split('\n'))
    .map((line) => (JSON.parse(line) as { rse: string }).rse);
  const admin = (args: string[]): Promise<string> => real().rucioAdminOk(args);
  // The kit's own RSE goes (its limit first, or the account would list a limit on a deleted RSE).
  await admin(['account', 'delete-limits', 'root', 'LOCAL_POSIX']);
  await admin(['rse', 'delete', 'LOCAL_POSIX']);
  for (const name of rseNames) {
    const info = (await (await fetch(`${lake.host}/rses/${name}`, { headers: { 'X-Rucio-Auth-Token': lakeToken } })).json()) as {
      protocols: { scheme: string; hostname: string; port: number; prefix: string; impl: string; domains: unknown; extended_attributes: unknown }[];
    };
    const attributes = (await (await fetch(`${lake.host}/rses/${name}/attr/`, { headers: { 'X-Rucio-Auth-Token': lakeToken } })).json()) as Record<string, unknown>;
    await admin(['rse', 'add', name]);
    for (const protocol of info.protocols) {
      const prefix = protocol.scheme === 'file' ? protocol.prefix.replace(lakeDir, real().info.dir) : `${protocol.prefix}${realSideKeys}`;
      const args = ['rse', 'add-protocol', '--hostname', protocol.hostname, '--scheme', protocol.scheme, '--prefix', prefix, '--port', String(protocol.port), '--impl', protocol.impl, '--domain-json', JSON.stringify(protocol.domains)];
      if (protocol.extended_attributes !== null && protocol.extended_attributes !== undefined) args.push('--extended-attributes-json', JSON.stringify(protocol.extended_attributes));
      await admin([...args, name]);
    }
    for (const [key, value] of Object.entries(attributes)) {
      if (key === name) continue;
      await admin(['rse', 'set-attribute', '--rse', name, '--key', key, '--value', String(value)]);
    }
    await admin(['account', 'set-limits', 'root', name, 'infinity']);
    if (attributes.sign_url === 's3') signing[name] = true;
  }
  // A real Rucio signs S3 URLs with the keys its rse-accounts.cfg holds for the RSE's id.
  const realToken = await token(rucio);
  const accounts: Record<string, unknown> = {};
  for (const name of Object.keys(signing)) {
    const { id } = (await (await fetch(`${rucio.host}/rses/${name}`, { headers: { 'X-Rucio-Auth-Token': realToken } })).json()) as { id: string };
    accounts[id] = { access_key: lakeReady.s3.accessKeyId, secret_key: lakeReady.s3.secretAccessKey, signature_version: 's3v4', region: lakeReady.s3.region };
  }
  await writeFile(join(real().info.dir, 'etc', 'rse-accounts.cfg'), JSON.stringify(accounts), { mode: 0o600 });
}

let work: string;
const files = [
  { name: 'conf-a.txt', text: 'alpha: a file of the conformance run\n' },
  { name: 'conf-b.txt', text: 'beta: another one, a little longer than the first\n' },
];
/** Uploaded after the dataset is closed. */
const lateFile = { name: 'conf-c.txt', text: 'gamma: too late for the dataset\n' };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'wavefier-conformance-'));
  lakeDir = join(work, 'lake');
  const ready = await startLakeServe(lakeDir);
  lakeReady = ready;
  // gfal2 (the client's storage library for https) verifies the lake's storage with this CA.
  const env = { X509_CERT_DIR: ready.storageCa.caDir };
  const keep = new Set([...files, lateFile].map((f) => fileSums(Buffer.from(f.text)).md5));
  const side = async (label: 'rucio' | 'lake', fields: Omit<Target, 'label' | 'work' | 'keep'>): Promise<Target> => {
    const dir = join(work, label);
    await mkdir(join(dir, 'files'), { recursive: true });
    for (const file of [...files, lateFile]) await writeFile(join(dir, 'files', file.name), file.text);
    return { label, work: dir, keep, ...fields };
  };
  lake = await side('lake', { cfg: ready.rucioCfgPath, root: ready.dir, host: ready.rucioHost, username: ready.username, password: ready.password, env });
  rucio = await side('rucio', { cfg: real().info.client_cfg, root: real().info.dir, host: real().info.host, username: 'ddmlab', password: 'secret', env, rewrites: [[`/${realSideKeys}`, '/']] });
  await mirrorLakeRses();
}, 180_000);

afterAll(async () => {
  await stopLake();
  await rm(work, { recursive: true, force: true });
});

/** Runs one official-client command on both sides (side by side) and returns both normalised outputs. */
/** Which part of a command's output is compared, after normalisation. */
type Select = (output: { stdout: string; stderr: string }) => string;
const everything: Select = (r) => `${r.stdout}\n--- stderr\n${r.stderr}`;

async function both(tool: 'rucio' | 'rucio-admin', args: (t: Target) => readonly string[], select: Select): Promise<{ rucio: string; lake: string }> {
  const [a, b] = await Promise.all([rucio, lake].map(async (target) => {
    const result = await officialClient(real().info.dir, target, tool, args(target));
    return `exit ${result.code}\n${select({ stdout: normalise(result.stdout, target), stderr: normalise(result.stderr, target) })}`;
  }));
  return { rucio: a ?? '', lake: b ?? '' };
}

/**
 * Runs a command on both sides and expects the same normalised output, and on the real server the
 * exit status given (so that a command failing the same way on both sides cannot pass unnoticed).
 */
async function sameOutput(
  tool: 'rucio' | 'rucio-admin',
  args: readonly string[] | ((t: Target) => readonly string[]),
  options: { select?: Select; exit?: number } = {},
): Promise<string> {
  const out = await both(tool, typeof args === 'function' ? args : () => args, options.select ?? everything);
  expect.soft(out.rucio.split('\n')[0], out.rucio).toBe(`exit ${options.exit ?? 0}`);
  expect.soft(out.lake).toBe(out.rucio);
  return out.rucio;
}

async function sameAnswer(method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; sortLines?: boolean } = {}): Promise<RestAnswer> {
  const [a, b] = await Promise.all([rucio, lake].map(async (target) => restCall(target, await token(target), method, path, options)));
  expect.soft(b).toEqual(a);
  return a!;
}

/**
 * For refusals whose message goes on with a dump of Rucio's JSON schema after its first line (jsonschema's
 * report, not behaviour): the same status, class and content type, and the same first line unless
 * `firstLine` is false (the lake words a pattern failure its own way).
 */
async function sameFailure(method: string, path: string, body: unknown, options: { firstLine?: boolean } = {}): Promise<void> {
  const answers = await Promise.all([rucio, lake].map(async (target) => restCall(target, await token(target), method, path, { body })));
  const [a, b] = answers.map(({ status, exceptionClass, contentType, body: error }) => {
    const message = (error as { ExceptionMessage?: unknown } | undefined)?.ExceptionMessage;
    const firstLine = typeof message === 'string' ? message.split('\n')[0] : message;
    return { status, exceptionClass, contentType, ...(options.firstLine === false ? {} : { firstLine }) };
  });
  expect.soft(b, `${method} ${path} ${JSON.stringify(body)}`).toEqual(a);
}

/** The client's log lines, without the threads' interleaving (sorted). */
const logLines: Select = (r) => r.stderr.split('\n').filter((line) => line.trim() !== '').sort().join('\n');

const ds = 'wavefier:conf-ds';
const ds2 = 'wavefier:conf-ds2';
const fileA = 'wavefier:conf-a.txt';

describe('the official client against a real Rucio server and the embedded lake', { timeout: 240_000 }, () => {
  it('ping, whoami', async () => {
    await sameOutput('rucio', ['ping']);
    // Rucio's key order of an account follows what its ORM loaded first, which varies: compared sorted.
    await sameOutput('rucio', ['whoami'], { select: (r) => r.stdout.split('\n').sort().join('\n') });
  });

  it('RSEs: list-rses, list-rse-attributes, rucio-admin rse info', async () => {
    await sameOutput('rucio', ['list-rses']);
    await sameOutput('rucio', ['list-rse-attributes', 'LAKE_POSIX']);
    await sameOutput('rucio-admin', ['rse', 'info', 'LAKE_POSIX']);
    await sameOutput('rucio-admin', ['rse', 'info', 'LAKE_S3']);
  });

  it('accounts: rucio-admin account list, list-account-limits, list-account-usage', async () => {
    await sameOutput('rucio-admin', ['account', 'list']);
    await sameOutput('rucio', ['list-account-limits', 'root']);
  });

  it('upload of two files into a new dataset on LAKE_POSIX', async () => {
    await sameOutput('rucio', (t) => ['upload', '--rse', 'LAKE_POSIX', '--scope', 'wavefier', ...files.map((f) => join(t.work, 'files', f.name)), ds], { select: logLines });
  });

  it('list-dids: default, --filter type=all, type=file, a name pattern', async () => {
    await sameOutput('rucio', ['list-dids', 'wavefier:*']);
    await sameOutput('rucio', ['list-dids', '--filter', 'type=all', 'wavefier:*']);
    await sameOutput('rucio', ['list-dids', '--filter', 'type=file', 'wavefier:*']);
    await sameOutput('rucio', ['list-dids', '--filter', 'type=all', 'wavefier:conf-a*']);
    await sameOutput('rucio', ['list-dids', '--short', 'wavefier:conf*']);
  });

  it('get-metadata, stat, list-content, list-files, list-parent-dids', async () => {
    await sameOutput('rucio', ['get-metadata', fileA]);
    await sameOutput('rucio', ['get-metadata', ds]);
    await sameOutput('rucio', ['stat', ds]);
    await sameOutput('rucio', ['stat', fileA]);
    await sameOutput('rucio', ['list-content', ds]);
    await sameOutput('rucio', ['list-files', ds]);
    await sameOutput('rucio', ['list-parent-dids', fileA]);
  });

  it('list-file-replicas: plain, --rses, --pfns, --all-states', async () => {
    await sameOutput('rucio', ['list-file-replicas', ds]);
    await sameOutput('rucio', ['list-file-replicas', '--rses', 'LAKE_POSIX', ds]);
    await sameOutput('rucio', ['list-file-replicas', '--pfns', ds]);
    await sameOutput('rucio', ['list-file-replicas', '--all-states', fileA]);
  });

  it('rules: list-rules on the dataset and --account, rule-info', async () => {
    await sameOutput('rucio', ['list-rules', ds]);
    await sameOutput('rucio', ['list-rules', '--account', 'root']);
    const ruleIds = await Promise.all([rucio, lake].map(async (t) => (await officialClient(real().info.dir, t, 'rucio', ['list-rules', '--csv', ds])).stdout.split(',')[0] ?? ''));
    await sameOutput('rucio', (t) => ['rule-info', ruleIds[t === rucio ? 0 : 1] ?? '']);
  });

  it('usage: list-rse-usage, list-account-usage', async () => {
    await sameOutput('rucio', ['list-rse-usage', 'LAKE_POSIX']);
    await sameOutput('rucio', ['list-account-usage', 'root']);
  });

  it('close, reopen', async () => {
    await sameOutput('rucio', ['close', ds]);
    await sameOutput('rucio', ['stat', ds]);
    // A new file into the closed dataset: stored and registered, the attach refused (a warning).
    await sameOutput('rucio', (t) => ['upload', '--rse', 'LAKE_POSIX', '--scope', 'wavefier', join(t.work, 'files', lateFile.name), ds], { select: logLines });
    await sameOutput('rucio', ['list-content', ds]);
    await sameOutput('rucio', ['reopen', ds]);
    await sameOutput('rucio', ['stat', ds]);
  });

  it('add-dataset, attach, detach, erase', async () => {
    await sameOutput('rucio', ['add-dataset', ds2]);
    await sameOutput('rucio', ['attach', ds2, fileA]);
    await sameOutput('rucio', ['list-content', ds2]);
    await sameOutput('rucio', ['attach', ds2, fileA], { exit: 18 });
    await sameOutput('rucio', ['detach', ds2, fileA]);
    await sameOutput('rucio', ['list-content', ds2]);
    await sameOutput('rucio', ['erase', ds2]);
    await sameOutput('rucio', ['get-metadata', ds2]);
    await sameOutput('rucio', ['stat', ds2]);
  });

  it('download of the dataset', async () => {
    await sameOutput('rucio', ['download', '--dir', 'down', ds], { select: (r) => r.stdout });
    for (const target of [rucio, lake]) {
      const dir = join(target.work, 'down', 'conf-ds');
      expect((await readdir(dir)).sort()).toEqual(files.map((f) => f.name));
      for (const file of files) expect(await readFile(join(dir, file.name), 'utf8')).toBe(file.text);
    }
  });

  it('upload and download on the S3 RSEs (https, gfal.NoRename, URLs signed by the server)', async () => {
    for (const rse of ['LAKE_S3', 'LAKE_SIGNED']) {
      const dataset = `wavefier:conf-${rse.toLowerCase()}`;
      const upload = (t: Target): readonly string[] => ['upload', '--rse', rse, '--scope', 'wavefier', '--name', `${rse}-${files[0]!.name}`, join(t.work, 'files', files[0]!.name), dataset];
      await sameOutput('rucio', upload, { select: logLines });
      await sameOutput('rucio', ['list-file-replicas', '--rses', rse, dataset]);
      await sameOutput('rucio', ['download', '--dir', 'down-s3', dataset], { select: (r) => r.stdout });
      for (const target of [rucio, lake]) {
        expect(await readFile(join(target.work, 'down-s3', `conf-${rse.toLowerCase()}`, `${rse}-${files[0]!.name}`), 'utf8'), `${target.label} ${rse}`).toBe(files[0]!.text);
      }
    }
  });

  it('what does not exist: DID, scope, RSE, account', async () => {
    await sameOutput('rucio', ['get-metadata', 'wavefier:no-such-did'], { exit: 12 });
    await sameOutput('rucio', ['list-content', 'wavefier:no-such-did']);
    await sameOutput('rucio', ['stat', 'nosuchscope:x'], { exit: 12 });
    await sameOutput('rucio', ['list-rse-attributes', 'NO_SUCH_RSE'], { exit: 52 });
    await sameOutput('rucio', ['list-account-limits', 'nobody']);
  });
});

describe('the REST calls wavefier makes, on both', { timeout: 240_000 }, () => {
  const dataset = 'conf-rest';
  const file = { scope: 'wavefier', name: 'conf-rest-1.bin', bytes: 5, adler32: '05c801f0', md5: '5d41402abc4b2a76b9719d911017c592', meta: { guid: '0123456789abcdef0123456789abcdef' } };

  it('ping (unauthenticated), whoami, an account', async () => {
    await sameAnswer('GET', '/ping');
    await sameAnswer('GET', '/accounts/whoami');
    await sameAnswer('GET', '/accounts/root');
  });

  it('an RSE and its attributes', async () => {
    await sameAnswer('GET', '/rses/LAKE_POSIX');
    await sameAnswer('GET', '/rses/LAKE_POSIX/attr/');
    await sameAnswer('GET', '/rses/NO_SUCH_RSE');
  });

  it('dataset with a rule, one-call register-and-attach, listing, close', async () => {
    await sameAnswer('POST', `/dids/wavefier/${dataset}`, { body: { type: 'DATASET', rules: [{ copies: 1, rse_expression: 'LAKE_POSIX', account: 'root', grouping: 'DATASET' }] } });
    await sameAnswer('POST', `/dids/wavefier/${dataset}`, { body: { type: 'DATASET' } });
    await sameAnswer('POST', `/dids/wavefier/${dataset}/dids`, { body: { rse: 'LAKE_POSIX', dids: [file] } });
    await sameAnswer('POST', `/dids/wavefier/${dataset}/dids`, { body: { rse: 'LAKE_POSIX', dids: [file] } });
    await sameAnswer('POST', `/dids/wavefier/${dataset}/dids`, { body: { rse: 'LAKE_POSIX', dids: [{ ...file, adler32: '0badbeef' }] } });
    await sameAnswer('GET', `/dids/wavefier/${dataset}?dynamic_depth=FILE`);
    await sameAnswer('GET', `/dids/wavefier/${dataset}/dids`);
    await sameAnswer('GET', `/dids/wavefier/${file.name}/meta`);
    await sameAnswer('GET', `/dids/wavefier/${file.name}/parents`);
    await sameAnswer('POST', '/replicas/list', { body: { dids: [{ scope: 'wavefier', name: dataset }], rse_expression: 'LAKE_POSIX' } });
    await sameAnswer('POST', '/replicas/list', { body: { dids: [{ scope: 'wavefier', name: dataset }], updated_after: '2000-01-01T00:00:00' } });
    await sameAnswer('POST', '/replicas/list', { body: { dids: [{ scope: 'wavefier', name: 'no-such-dataset' }] } });
    await sameAnswer('POST', '/replicas', { body: { rse: 'LAKE_POSIX', files: [{ ...file, state: 'A' }] } });
    await sameAnswer('PUT', `/dids/wavefier/${dataset}/status`, { body: { open: false } });
    await sameAnswer('POST', `/dids/wavefier/${dataset}/dids`, { body: { dids: [{ scope: 'wavefier', name: 'conf-a.txt' }] } });
  });

  it('metadata, rules, replica states, bulk attachments, lfns2pfns, scopes', async () => {
    await sameAnswer('POST', `/dids/wavefier/${dataset}/meta/run_number`, { body: { value: 7 } });
    await sameAnswer('POST', `/dids/wavefier/${dataset}/meta`, { body: { meta: { datatype: 'strain', stream_name: 'h' } } });
    await sameAnswer('GET', `/dids/wavefier/${dataset}/meta`);
    await sameAnswer('POST', `/dids/wavefier/${dataset}/meta/detector`, { body: { value: 'V1' } });
    await sameAnswer('POST', `/dids/wavefier/${dataset}/meta`, { body: { meta: { detector: 'V1', gps: 1 } } });
    await sameAnswer('POST', `/dids/wavefier/no-such-did/meta/run_number`, { body: { value: 7 } });
    await sameAnswer('POST', '/rules/', { body: { dids: [{ scope: 'wavefier', name: 'no-such-did' }], copies: 1, rse_expression: 'LAKE_POSIX', grouping: 'DATASET', account: 'root' } });
    await sameAnswer('POST', '/rules/', { body: { dids: [{ scope: 'wavefier', name: dataset }], copies: 1, rse_expression: 'NO_SUCH_RSE', grouping: 'DATASET', account: 'root' } });
    await sameAnswer('GET', '/rules/0123456789abcdef0123456789abcdef');
    await sameAnswer('PUT', '/replicas', { body: { rse: 'LAKE_POSIX', files: [{ scope: 'wavefier', name: file.name, state: 'A' }] } });
    await sameAnswer('PUT', '/replicas', { body: { rse: 'LAKE_POSIX', files: [{ scope: 'wavefier', name: 'no-such-did', state: 'A' }] } });
    await sameAnswer('POST', '/dids/wavefier/conf-rest-2', { body: { type: 'DATASET' } });
    await sameAnswer('POST', '/dids/attachments', { body: { attachments: [{ scope: 'wavefier', name: 'conf-rest-2', dids: [{ scope: 'wavefier', name: file.name }] }], ignore_duplicate: true } });
    await sameAnswer('POST', '/dids/attachments', { body: { attachments: [{ scope: 'wavefier', name: 'conf-rest-2', dids: [{ scope: 'wavefier', name: file.name }] }], ignore_duplicate: true } });
    await sameAnswer('POST', '/dids/attachments', { body: { attachments: [{ scope: 'wavefier', name: 'conf-rest-2', rse: 'LAKE_POSIX', dids: [{ ...file, adler32: '0badbeef' }] }] } });
    await sameAnswer('GET', `/rses/LAKE_POSIX/lfns2pfns?lfn=${encodeURIComponent(`wavefier:${file.name}`)}&lfn=${encodeURIComponent('user.root:x.bin')}`);
    await sameAnswer('GET', '/accounts/root/scopes/');
    await sameAnswer('GET', '/scopes/');
  });

  it('an attach of no DIDs (refused by the schema check, before any lookup), an empty bulk list, a bulk body without attachments', async () => {
    await sameAnswer('POST', '/dids/wavefier/conf-empty', { body: { type: 'DATASET' } });
    await sameFailure('POST', '/dids/wavefier/conf-empty/dids', { dids: [] });
    await sameFailure('POST', '/dids/wavefier/conf-empty/dids', { rse: 'LAKE_POSIX', dids: [] });
    await sameFailure('POST', '/dids/wavefier/no-such-dataset/dids', { dids: [] });
    await sameFailure('POST', '/dids/wavefier/conf-empty/dids', { rse: 'LAKE_POSIX', dids: [{ ...file, name: 'conf-empty-1.bin', adler32: '5c801f0' }] }, { firstLine: false });
    const withEmpty = [{ scope: 'wavefier', name: 'conf-empty', dids: [] }];
    await sameFailure('POST', '/dids/attachments', withEmpty);
    await sameFailure('POST', '/dids/attachments', { attachments: withEmpty, ignore_duplicate: true });
    await sameAnswer('POST', '/dids/attachments', { body: [] });
    await sameAnswer('POST', '/dids/attachments', { body: { attachments: [] } });
    await sameAnswer('POST', '/dids/attachments', { body: { ignore_duplicate: true } });
    await sameAnswer('POST', '/dids/attachments', { body: '"x"' });
    await sameAnswer('GET', '/dids/wavefier/conf-empty/dids');
  });

  it('a user scope: the naming convention\'s project on the dataset and on the files registered into it', async () => {
    const userFile = { ...file, scope: 'user.root', name: 'conf-user-1.bin' };
    await sameAnswer('POST', '/dids/user.root/conf-user', { body: { type: 'DATASET' } });
    await sameAnswer('POST', '/dids/user.root/conf-user/dids', { body: { rse: 'LAKE_POSIX', dids: [userFile] } });
    await sameAnswer('GET', '/dids/user.root/conf-user/meta');
    await sameAnswer('GET', `/dids/user.root/${userFile.name}/meta`);
    await sameAnswer('GET', `/rses/LAKE_POSIX/lfns2pfns?lfn=${encodeURIComponent(`user.root:${userFile.name}`)}`);
  });

  it('accounts, limits, usage, RSE usage and limits', async () => {
    await sameAnswer('GET', '/accounts/');
    await sameAnswer('GET', '/accounts/?account_type=SERVICE');
    await sameAnswer('GET', '/accounts/nobody');
    await sameAnswer('GET', '/accounts/root/limits/local');
    await sameAnswer('GET', '/accounts/root/limits/global');
    await sameAnswer('GET', '/accounts/nobody/limits/local');
    await sameAnswer('GET', '/accounts/root/usage/local');
    await sameAnswer('GET', '/accounts/root/usage/local/LAKE_POSIX');
    await sameAnswer('GET', '/accounts/root/usage/global');
    await sameAnswer('GET', '/accounts/nobody/usage/local');
    await sameAnswer('GET', '/accounts/root/rules');
    await sameAnswer('GET', '/rses/LAKE_POSIX/usage');
    await sameAnswer('GET', '/rses/LAKE_POSIX/limits');
    await sameAnswer('GET', '/rses/NO_SUCH_RSE/usage');
  });

  it('detach and lifetime', async () => {
    await sameAnswer('DELETE', '/dids/wavefier/conf-rest-2/dids', { body: { dids: [{ scope: 'wavefier', name: file.name }] } });
    await sameAnswer('DELETE', '/dids/wavefier/conf-rest-2/dids', { body: { dids: [{ scope: 'wavefier', name: file.name }] } });
    await sameAnswer('DELETE', '/dids/wavefier/no-such-did/dids', { body: { dids: [{ scope: 'wavefier', name: file.name }] } });
    await sameAnswer('POST', '/dids/wavefier/conf-rest-2/meta/lifetime', { body: { value: 3600 } });
    await sameAnswer('GET', '/dids/wavefier/conf-rest-2');
  });

  it('errors: an unknown DID, an unknown path, a wrong method, a trace', async () => {
    await sameAnswer('GET', '/dids/wavefier/no-such-did');
    await sameAnswer('GET', '/no/such/endpoint');
    await sameAnswer('DELETE', '/ping');
    await sameAnswer('POST', '/traces/', { body: { eventType: 'upload', clientState: 'DONE' } });
  });
});
