/**
 * The failures a real Rucio 1.31.7 server produces, as wavefier meets them: a wrong password (401),
 * a DID, scope or RSE that does not exist (404), duplicates and a closed dataset (409), and the
 * `generic` permission policy refusing a non-admin account (401 AccessDenied).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DidConflictError,
  RucioAccessDeniedError,
  RucioClient,
  RucioConflictError,
  RucioNotFoundError,
  RucioQuotaError,
  downloadFile,
  genericPolicyHint,
  loadRucioConfig,
  uploadFile,
  type ReplicaRecord,
} from '../../src/rucio/index.js';
import { runCli } from '../helpers/cli.js';
import { hashPath, parseTable, readJsonLines, realRucioForFile } from './peer.js';

const real = realRucioForFile();
const clients: RucioClient[] = [];

/** A rucio.cfg like the peer's, for another identity (or a wrong password), and a token cache of its own. */
async function identityEnv(name: string, username: string, password: string, account: string): Promise<NodeJS.ProcessEnv> {
  const dir = join(real().dir, name);
  await mkdir(dir, { recursive: true });
  const cfg = join(dir, 'rucio.cfg');
  const host = real().info.host;
  await writeFile(cfg, `[client]\nrucio_host = ${host}\nauth_host = ${host}\nauth_type = userpass\nusername = ${username}\npassword = ${password}\naccount = ${account}\n`);
  return { RUCIO_CONFIG: cfg, TMPDIR: dir };
}

async function clientFor(env: NodeJS.ProcessEnv): Promise<RucioClient> {
  const client = new RucioClient(await loadRucioConfig({ env }), { retry: { attempts: 1 } });
  clients.push(client);
  return client;
}

let jdoe: NodeJS.ProcessEnv;
const scratchRse = 'TEST_SCRATCHDISK';
/** An RSE the generic policy lets jdoe write to, but on which jdoe has no limit (quota). */
const noQuotaRse = 'NOQUOTA_SCRATCHDISK';

beforeAll(async () => {
  // A non-admin account with its own scope and quota, and a second RSE whose name the generic policy lets it write to.
  await real().rucioAdminOk(['account', 'add', '--type', 'USER', '--email', 'jdoe@example.org', 'jdoe']);
  await Promise.all([
    real().rucioAdminOk(['identity', 'add', '--account', 'jdoe', '--type', 'USERPASS', '--id', 'jdoe', '--password', 'jdoe-secret', '--email', 'jdoe@example.org']),
    real().rucioAdminOk(['scope', 'add', '--account', 'jdoe', '--scope', 'user.jdoe']),
    real().rucioAdminOk(['rse', 'add', scratchRse]),
    real().rucioAdminOk(['rse', 'add', noQuotaRse]),
  ]);
  const domains = { lan: { read: 1, write: 1, delete: 1 }, wan: { read: 1, write: 1, delete: 1, third_party_copy_read: 1, third_party_copy_write: 1 } };
  await Promise.all([
    real().rucioAdminOk(['rse', 'add-protocol', '--hostname', 'localhost', '--scheme', 'file', '--prefix', join(real().info.dir, 'rse', scratchRse), '--domain-json', JSON.stringify(domains), '--impl', 'rucio.rse.protocols.posix.Default', scratchRse]),
    real().rucioAdminOk(['rse', 'add-protocol', '--hostname', 'localhost', '--scheme', 'file', '--prefix', join(real().info.dir, 'rse', noQuotaRse), '--domain-json', JSON.stringify(domains), '--impl', 'rucio.rse.protocols.posix.Default', noQuotaRse]),
    real().rucioAdminOk(['account', 'set-limits', 'jdoe', 'LOCAL_POSIX', 'infinity']),
    real().rucioAdminOk(['account', 'set-limits', 'jdoe', scratchRse, 'infinity']),
  ]);
  jdoe = await identityEnv('jdoe', 'jdoe', 'jdoe-secret', 'jdoe');
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
});

const uploadArgs = (logs: string, ...extra: string[]): string[] => [
  'upload', '--source', 'synthetic', '--count', '2', '--as-fast-as-possible', '--attempts', '2', '--log-dir', logs, ...extra,
];

describe('401: a wrong password', { timeout: 180_000 }, () => {
  it('stops upload at once with exit 2, naming the server\'s refusal and the fix, never the password', async () => {
    const env = await identityEnv('wrong-password', 'ddmlab', 'not-the-password', 'root');
    const result = await runCli(uploadArgs(join(real().dir, 'logs'), '--rse', 'LOCAL_POSIX'), { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^wavefier: error: authenticate account root \(userpass\) at http:\/\/127\.0\.0\.1:\d+ failed: HTTP 401 IdentityNotFound .*check the account, the credentials/m);
    expect(result.stderr).not.toContain('not-the-password');
    expect(result.stderr).not.toMatch(/\n\s+at /);

    const doctor = await runCli(['doctor', '--rse', 'LOCAL_POSIX'], { env });
    expect(doctor.code).toBe(2);
    expect(doctor.stdout).toMatch(/^FAIL\s+authentication .*HTTP 401 IdentityNotFound/m);
    expect(doctor.stdout).toMatch(/^\s+fix: check username\/password and account/m);
    expect(doctor.stdout).toMatch(/^skip\s+rse/m);
  });
});

describe('404: what does not exist', { timeout: 180_000 }, () => {
  it('a DID: the typed not-found error with the server\'s class', async () => {
    const client = await clientFor(real().env);
    const error: unknown = await client.getDid('wavefier', 'no-such-dataset').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RucioNotFoundError);
    expect((error as RucioNotFoundError).failure).toMatchObject({ status: 404, exceptionClass: 'DataIdentifierNotFound' });
    expect((error as Error).message).toMatch(/wavefier:no-such-dataset/);
  });

  it('a scope: upload stops before sending anything, naming the scope', async () => {
    const result = await runCli(uploadArgs(join(real().dir, 'logs'), '--rse', 'LOCAL_POSIX', '--scope', 'nosuchscope'), { env: real().env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/error: add dataset nosuchscope:wavefier-\S+ failed: HTTP 404 ScopeNotFound/);
  });

  it('an RSE: doctor says which, and upload refuses it (the server answers the dataset rule with InvalidRSEExpression)', async () => {
    const doctor = await runCli(['doctor', '--rse', 'NO_SUCH_RSE'], { env: real().env });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/^FAIL\s+rse\s+get RSE NO_SUCH_RSE failed: HTTP 404 RSENotFound \(RSE 'NO_SUCH_RSE' cannot be found in vo 'def'\)/m);

    const upload = await runCli(uploadArgs(join(real().dir, 'logs'), '--rse', 'NO_SUCH_RSE'), { env: real().env });
    expect(upload.code).toBe(2);
    expect(upload.stderr).toMatch(/error: add dataset wavefier:\S+ failed: HTTP 500 InvalidRSEExpression \(RSE Expression resulted in an empty set\.\)/);
  });
});

describe('409: duplicates and a closed dataset', { timeout: 180_000 }, () => {
  it('a dataset created twice, a file attached twice, a DID re-uploaded with other bytes: refused, nothing overwritten', async () => {
    const client = await clientFor(real().env);
    const dataset = { scope: 'wavefier', name: `dup-${Date.now()}` };
    expect(await client.addDataset(dataset.scope, dataset.name)).toEqual({ created: true });
    // 409 DataIdentifierAlreadyExists is what a second creation gets; for a dataset that is success.
    expect(await client.addDataset(dataset.scope, dataset.name)).toEqual({ created: false });
    const first = await uploadFile(client, { scope: 'wavefier', name: `${dataset.name}.bin`, bytes: Buffer.from('first bytes'), dataset, rse: 'LOCAL_POSIX' });

    const twice: unknown = await client.attachDids(dataset.scope, dataset.name, [{ scope: 'wavefier', name: first.name }]).catch((e: unknown) => e);
    expect(twice).toBeInstanceOf(RucioConflictError);
    expect((twice as RucioConflictError).failure).toMatchObject({ status: 409, exceptionClass: 'FileAlreadyExists' });

    const other: unknown = await uploadFile(client, { scope: 'wavefier', name: first.name, bytes: Buffer.from('other bytes'), dataset, rse: 'LOCAL_POSIX' }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(DidConflictError);
    expect((other as Error).message).toContain(`the catalog already holds it with adler32 ${first.adler32}`);
    expect((await client.getMetadata('wavefier', first.name)).adler32).toBe(first.adler32);
    // The same bytes again: a retried upload, fine.
    const again = await uploadFile(client, { scope: 'wavefier', name: first.name, bytes: Buffer.from('first bytes'), dataset, rse: 'LOCAL_POSIX' });
    expect(again.alreadyRegistered).toBe(true);
  });

  it('a DID re-uploaded with other bytes to another RSE: the server\'s FileConsistencyMismatch (HTTP 500) is a DidConflictError, and the object written there is removed', async () => {
    const client = await clientFor(real().env);
    const dataset = { scope: 'wavefier', name: `mismatch-${Date.now()}` };
    await client.addDataset(dataset.scope, dataset.name);
    const name = `${dataset.name}.bin`;
    const first = await uploadFile(client, { scope: 'wavefier', name, bytes: Buffer.from('first bytes'), dataset, rse: 'LOCAL_POSIX' });
    // Nothing is at the PFN on the other RSE, so the PUT goes through; the catalog refuses the file.
    const other: unknown = await uploadFile(client, { scope: 'wavefier', name, bytes: Buffer.from('other bytes'), dataset, rse: scratchRse }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(DidConflictError);
    expect((other as Error).message).toContain(`upload wavefier:${name} refused: the catalog already holds it with adler32 ${first.adler32}`);
    expect((other as Error).message).toContain('upload under a new name');
    expect(existsSync(hashPath(join(real().info.dir, 'rse', scratchRse), 'wavefier', name))).toBe(false);
    expect(await readFile(hashPath(real().info.rse_prefix, 'wavefier', name), 'utf8')).toBe('first bytes');
    expect((await client.getMetadata('wavefier', name)).adler32).toBe(first.adler32);
  });

  it('uploading into a closed dataset fails every chunk at its first attempt with the server\'s UnsupportedOperation and the way out', async () => {
    const dataset = `closed-${Date.now()}`;
    const client = await clientFor(real().env);
    await client.addDataset('wavefier', dataset);
    await real().rucioOk(['close', `wavefier:${dataset}`]);
    const logs = join(real().dir, 'logs');
    const result = await runCli(['--json', ...uploadArgs(logs, '--rse', 'LOCAL_POSIX', '--dataset', dataset)], { env: real().env });
    expect(result.code).not.toBe(0);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as { uploaded: number; failed: number; logFile: string };
    expect(summary).toMatchObject({ uploaded: 0, failed: 2 });
    const failed = (await readJsonLines(summary.logFile)).filter((e) => e.event === 'failed');
    expect(failed).toHaveLength(2);
    for (const event of failed) {
      expect(event.error).toMatch(new RegExp(`HTTP 409 UnsupportedOperation \\(Data identifier 'wavefier:${dataset}' is closed\\)`));
      expect(event.error).toMatch(/reopen it \('rucio reopen SCOPE:NAME'.* or upload into another dataset \(--dataset\)/);
      // A closed dataset stays closed: retrying cannot help.
      expect(event.attempts).toBe(1);
    }
  });
});

describe('InsufficientAccountLimit: no quota on the RSE', { timeout: 180_000 }, () => {
  it('upload stops with the server\'s answer and what to do, without retrying', async () => {
    const client = await clientFor(jdoe);
    const name = `quota-${Date.now()}`;
    const rules = [{ dids: [{ scope: 'user.jdoe', name }], copies: 1, rseExpression: noQuotaRse, grouping: 'DATASET' as const }];
    const error: unknown = await client.addDataset('user.jdoe', name, { rules }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RucioQuotaError);
    expect((error as RucioQuotaError).retryable).toBe(false);
    const result = await runCli(uploadArgs(join(real().dir, 'logs'), '--rse', noQuotaRse, '--scope', 'user.jdoe'), { env: jdoe });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/error: add dataset user\.jdoe:\S+ failed: HTTP \d+ InsufficientAccountLimit \(.*\); the account's limit \(quota\) on the RSE is zero or used up/);
    expect(result.stderr).toContain("'rucio-admin account set-limits ACCOUNT RSE BYTES'");
  });
});

describe('401 AccessDenied: the generic permission policy and a non-admin account', { timeout: 180_000 }, () => {
  const asJdoe = ['-a', 'jdoe', '-u', 'jdoe', '-pwd', 'jdoe-secret', '-S', 'userpass'];

  it('the official client may not register replicas on LOCAL_POSIX; on a *SCRATCHDISK it exits 0 but leaves the replica COPYING', async () => {
    const file = join(real().dir, 'jdoe-note.txt');
    await writeFile(file, 'a note from jdoe\n');
    const denied = await real().rucio([...asJdoe, 'upload', '--rse', 'LOCAL_POSIX', '--scope', 'user.jdoe', file]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/Account jdoe can not add file replicas on LOCAL_POSIX/);
    // Marking the replica AVAILABLE is admin-only under `generic`: the client logs the refusal and carries on.
    const scratch = await real().rucio([...asJdoe, 'upload', '--rse', scratchRse, '--scope', 'user.jdoe', file]);
    expect(scratch.code, scratch.stderr).toBe(0);
    expect(scratch.stderr).toMatch(/Failed to update replica state for file jdoe-note\.txt/);
    const states = parseTable(await real().rucioOk(['list-file-replicas', '--all-states', 'user.jdoe:jdoe-note.txt']));
    expect(states.map((row) => row['(STATE) RSE: REPLICA']?.slice(0, 4))).toEqual(['(C) ']);

    // wavefier cannot read a COPYING replica, and says why it may stay COPYING.
    const client = await clientFor(real().env);
    const replicas: ReplicaRecord[] = [];
    for await (const replica of client.listReplicas({ dids: [{ scope: 'user.jdoe', name: 'jdoe-note.txt' }], allStates: true })) replicas.push(replica);
    const error: unknown = await downloadFile(client, replicas[0]!, { destDir: join(real().dir, 'copying') }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/no AVAILABLE replica \(states: \{"TEST_SCRATCHDISK":"COPYING"\}\);.*only an admin account may change replica states/);
  });

  it('wavefier\'s official-sequence upload meets both refusals and says so, with the policy hint', async () => {
    const client = await clientFor(jdoe);
    const dataset = { scope: 'user.jdoe', name: `jdoe-${Date.now()}` };
    await client.addDataset(dataset.scope, dataset.name);
    const denied: unknown = await uploadFile(client, { scope: 'user.jdoe', name: 'denied.bin', bytes: Buffer.from('x'), dataset, rse: 'LOCAL_POSIX', mode: 'rucio-compatible' }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(RucioAccessDeniedError);
    expect((denied as RucioAccessDeniedError).failure).toMatchObject({ status: 401, exceptionClass: 'AccessDenied' });
    expect((denied as Error).message).toContain('register replicas on LOCAL_POSIX user.jdoe:denied.bin failed: HTTP 401 AccessDenied (Account jdoe can not add file replicas on LOCAL_POSIX)');
    expect((denied as Error).message).toContain(genericPolicyHint);

    const scratch: unknown = await uploadFile(client, { scope: 'user.jdoe', name: 'scratch.bin', bytes: Buffer.from('y'), dataset, rse: scratchRse, mode: 'rucio-compatible' }).catch((e: unknown) => e);
    expect(scratch).toBeInstanceOf(RucioAccessDeniedError);
    expect((scratch as Error).message).toContain(`Account jdoe can not update file replicas state on ${scratchRse}`);
  });

  it('wavefier\'s one-call upload registers AVAILABLE replicas on both RSEs: attaching with `rse` needs only the scope', async () => {
    for (const rse of ['LOCAL_POSIX', scratchRse]) {
      const result = await runCli(['--json', ...uploadArgs(join(real().dir, 'logs'), '--rse', rse, '--scope', 'user.jdoe')], { env: jdoe });
      expect(result.code, result.stderr).toBe(0);
      const summary = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as { dataset: string; uploaded: number };
      expect(summary.uploaded).toBe(2);
      const replicas = parseTable(await real().rucioOk(['list-file-replicas', `user.jdoe:${summary.dataset}`]));
      expect(replicas.map((row) => row['RSE: REPLICA']?.split(':')[0])).toEqual([rse, rse]);
    }
  });

  it('--upload-mode rucio-compatible runs the official sequence: fine for root, refused for jdoe as the official client is', async () => {
    const logs = join(real().dir, 'logs');
    const accessLog = join(real().info.dir, 'logs', 'access.log');
    const calls = async (request: string, status: number): Promise<number> =>
      (await readFile(accessLog, 'utf8')).split('\n').filter((line) => line.includes(`"${request} `) && line.includes(`" ${status} `)).length;
    const [registeredBefore, markedBefore] = [await calls('POST /replicas', 201), await calls('PUT /replicas', 200)];
    const asRoot = await runCli(['--json', ...uploadArgs(logs, '--rse', 'LOCAL_POSIX', '--upload-mode', 'rucio-compatible')], { env: real().env });
    expect(asRoot.code, asRoot.stderr).toBe(0);
    const summary = JSON.parse(asRoot.stdout.trim().split('\n').at(-1) ?? '') as { dataset: string; uploaded: number };
    expect(summary.uploaded).toBe(2);
    const replicas = parseTable(await real().rucioOk(['list-file-replicas', `wavefier:${summary.dataset}`]));
    expect(replicas).toHaveLength(2);
    // The official sequence: register (COPYING), mark AVAILABLE, attach, for each chunk.
    expect(await calls('POST /replicas', 201)).toBe(registeredBefore + 2);
    expect(await calls('PUT /replicas', 200)).toBe(markedBefore + 2);

    const asJdoe = await runCli(['--json', ...uploadArgs(logs, '--rse', 'LOCAL_POSIX', '--scope', 'user.jdoe', '--upload-mode', 'rucio-compatible')], { env: jdoe });
    expect(asJdoe.code).not.toBe(0);
    const denied = JSON.parse(asJdoe.stdout.trim().split('\n').at(-1) ?? '') as { uploaded: number; failed: number; logFile: string };
    expect(denied).toMatchObject({ uploaded: 0, failed: 2 });
    const failed = (await readJsonLines(denied.logFile)).filter((e) => e.event === 'failed');
    // Refused for good at the first attempt: a permission does not come back on retry.
    for (const event of failed) expect(event).toMatchObject({ attempts: 1, error: expect.stringContaining('Account jdoe can not add file replicas on LOCAL_POSIX') as unknown });
  });

  it('upload into a scope the account does not own stops with AccessDenied and exit 1', async () => {
    const result = await runCli(uploadArgs(join(real().dir, 'logs'), '--rse', scratchRse, '--scope', 'wavefier'), { env: jdoe });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/error: add dataset wavefier:\S+ failed: HTTP 401 AccessDenied \(Account jdoe can not add data identifier to scope wavefier\)/);
  });
});
