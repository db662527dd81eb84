import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checksums } from '../../src/common/checksum.js';
import { ExitCode, UsageError } from '../../src/common/errors.js';
import { startLake, type Lake } from '../../src/lake/index.js';
import {
  ChecksumMismatchError,
  DidConflictError,
  RucioAuthenticationError,
  RucioClient,
  RucioConflictError,
  RucioNotFoundError,
  StorageTransientError,
  downloadFile,
  fetchVerified,
  lfn2path,
  rucioConfigFrom,
  uploadFile,
  type ReplicaRecord,
} from '../../src/rucio/index.js';

let dir: string;
let lake: Lake;
let client: RucioClient;
const scope = 'wavefier';
const run = `run${Date.now().toString(36)}`;

function newClient(extra: Partial<Parameters<typeof rucioConfigFrom>[0]> = {}): RucioClient {
  return new RucioClient(rucioConfigFrom({ ...lake.settings, tokenCacheDir: join(dir, 'tokens'), ...extra }), {
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
  });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function replicaOf(name: string, rse?: string): Promise<ReplicaRecord> {
  const records = await collect(client.listReplicas({ dids: [{ scope, name }], ...(rse ? { rseExpression: rse } : {}) }));
  expect(records).toHaveLength(1);
  return records[0]!;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rucio-lake-'));
  lake = await startLake({ dir: join(dir, 'lake'), quiet: true });
  client = newClient();
});

afterAll(async () => {
  await client.close();
  await lake.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  lake.faults.clear();
});

describe('catalog operations against the embedded lake', () => {
  it('pings without a token and whoami follows the 303', async () => {
    expect((await client.ping()).version).toMatch(/\d/);
    expect((await client.whoami()).account).toBe('root');
    expect(client.stats.byEndpoint['GET /accounts/whoami']).toBe(1);
    expect(client.stats.byEndpoint['GET /accounts/{account}']).toBe(1);
  });

  it('caches RSE info: two calls the first time, none after', async () => {
    const info = await client.rse('LAKE_S3');
    expect(info.protocols[0]?.scheme).toBe('https');
    expect(info.signUrl).toBe('s3');
    expect(info.deterministic).toBe(true);
    await client.rse('LAKE_S3');
    expect(client.stats.byEndpoint['GET /rses/{rse}']).toBe(1);
    expect(client.stats.byEndpoint['GET /rses/{rse}/attr/']).toBe(1);
    expect((await client.rse('LAKE_SIGNED')).signUrl).toBe('s3');
  });

  it('reports an unknown RSE as not found, naming it', async () => {
    const error = await client.rse('NO_SUCH_RSE').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RucioNotFoundError);
    expect((error as Error).message).toMatch(/get RSE NO_SUCH_RSE failed: HTTP 404 RSENotFound/);
  });

  it('adds a dataset once; adding it again is fine', async () => {
    expect(await client.addDataset(scope, `${run}.ds`)).toEqual({ created: true });
    expect(await client.addDataset(scope, `${run}.ds`)).toEqual({ created: false });
    const did = await client.getDid(scope, `${run}.ds`);
    expect(did).toMatchObject({ scope, name: `${run}.ds`, type: 'DATASET', open: true });
  });

  it.each(['LAKE_S3', 'LAKE_POSIX', 'LAKE_SIGNED'])('uploads to %s, lists it, and downloads it verified', async (rse) => {
    const dataset = { scope, name: `${run}.${rse}` };
    await client.addDataset(dataset.scope, dataset.name);
    const bytes = randomBytes(32 * 1024);
    const name = `${run}-${rse}-1.hdf5`;
    const result = await uploadFile(client, { scope, name, bytes, dataset, rse });
    const lakeRse = lake.settings.rses.find((r) => r.name === rse)!;
    expect(result.pfn).toBe(`${lakeRse.pfnPrefix}${lfn2path(scope, name)}`);
    expect(result).toMatchObject({ ...checksums(bytes), bytes: bytes.byteLength, alreadyRegistered: false });

    const content = await collect(client.listContent(dataset.scope, dataset.name));
    expect(content).toEqual([expect.objectContaining({ scope, name, type: 'FILE', bytes: bytes.byteLength, adler32: result.adler32 })]);
    const replica = await replicaOf(name);
    expect(replica.states[rse]).toBe('AVAILABLE');
    expect(replica.pfns[0]?.rse).toBe(rse);
    const fetched = await fetchVerified(client, replica);
    expect(Buffer.from(fetched.bytes).equals(bytes)).toBe(true);
    expect(fetched.attempts).toBe(1);

    const dest = join(dir, 'down', rse);
    const downloaded = await downloadFile(client, replica, { destDir: dest });
    expect((await readFile(downloaded.path)).equals(bytes)).toBe(true);
    expect(downloaded.path).toBe(join(dest, name));
  });

  it('costs exactly one catalog call and one storage PUT per upload after warm-up', async () => {
    const dataset = { scope, name: `${run}.cost` };
    await client.addDataset(dataset.scope, dataset.name);
    await uploadFile(client, { scope, name: `${run}-cost-0`, bytes: randomBytes(100), dataset, rse: 'LAKE_S3' });
    const before = client.stats;
    for (let i = 1; i <= 5; i++) {
      await uploadFile(client, { scope, name: `${run}-cost-${i}`, bytes: randomBytes(32 * 1024), dataset, rse: 'LAKE_S3' });
    }
    const after = client.stats;
    expect(after.requests - before.requests).toBe(5);
    expect((after.byEndpoint['POST /dids/{scope}/{name}/dids'] ?? 0) - (before.byEndpoint['POST /dids/{scope}/{name}/dids'] ?? 0)).toBe(5);
    expect((after.storage['s3 PUT'] ?? 0) - (before.storage['s3 PUT'] ?? 0)).toBe(5);
  });

  it('works end to end with the AWS SDK engine too', async () => {
    const sdkClient = newClient({ s3Engine: 'sdk' });
    const dataset = { scope, name: `${run}.sdk` };
    await sdkClient.addDataset(dataset.scope, dataset.name);
    const bytes = randomBytes(32 * 1024);
    await uploadFile(sdkClient, { scope, name: `${run}-sdk`, bytes, dataset, rse: 'LAKE_S3' });
    const fetched = await fetchVerified(sdkClient, await replicaOf(`${run}-sdk`));
    expect(Buffer.from(fetched.bytes).equals(bytes)).toBe(true);
    expect(sdkClient.stats.storage['s3 PUT']).toBe(1);
    await sdkClient.close();
  });

  it('is idempotent on retry and refuses different content under the same name', async () => {
    const dataset = { scope, name: `${run}.idem` };
    await client.addDataset(dataset.scope, dataset.name);
    const bytes = randomBytes(2048);
    const name = `${run}-idem`;
    await uploadFile(client, { scope, name, bytes, dataset, rse: 'LAKE_POSIX' });
    const again = await uploadFile(client, { scope, name, bytes, dataset, rse: 'LAKE_POSIX' });
    expect(again.alreadyRegistered).toBe(true);
    const other = randomBytes(2048);
    const error = await uploadFile(client, { scope, name, bytes: other, dataset, rse: 'LAKE_POSIX' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DidConflictError);
    expect((error as DidConflictError).exitCode).toBe(ExitCode.integrity);
    // The posix store refuses the overwrite: the registered bytes are intact.
    const fetched = await fetchVerified(client, await replicaOf(name));
    expect(Buffer.from(fetched.bytes).equals(bytes)).toBe(true);
    expect(await collect(client.listContent(dataset.scope, dataset.name))).toHaveLength(1);
  });

  it('on a retried attempt refuses different bytes before touching S3 storage', async () => {
    const dataset = { scope, name: `${run}.idem` };
    const bytes = randomBytes(2048);
    const name = `${run}-idem-s3`;
    await uploadFile(client, { scope, name, bytes, dataset, rse: 'LAKE_S3' });
    const again = await uploadFile(client, { scope, name, bytes, dataset, rse: 'LAKE_S3', retry: true });
    expect(again.alreadyRegistered).toBe(true);
    const error = await uploadFile(client, { scope, name, bytes: randomBytes(2048), dataset, rse: 'LAKE_S3', retry: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DidConflictError);
    const fetched = await fetchVerified(client, await replicaOf(name));
    expect(Buffer.from(fetched.bytes).equals(bytes)).toBe(true);
  });

  // The soak's race: an upload worker killed after its attach, its job retried by another worker while
  // a consumer reads the chunk. Storage that damages a write (the lake's corruptWriteRate) turned a
  // chunk the consumer had verified into a corrupt object, or repaired one it had reported corrupted.
  it('never writes again the object of an AVAILABLE replica on a repeated upload, whatever storage does to writes', async () => {
    const dataset = { scope, name: `${run}.rewrite` };
    await client.addDataset(dataset.scope, dataset.name);
    const intact = { name: `${run}-rewrite-intact`, bytes: randomBytes(4096) };
    const damaged = { name: `${run}-rewrite-damaged`, bytes: randomBytes(4096) };
    await uploadFile(client, { scope, ...intact, dataset, rse: 'LAKE_S3' });
    lake.faults.set({ storage: [{ method: 'PUT', corruptWriteBurst: 1 }] });
    await uploadFile(client, { scope, ...damaged, dataset, rse: 'LAKE_S3' });
    expect(lake.faults.counters().storage.corruptedWrites).toBe(1);

    lake.faults.set({ storage: [{ method: 'PUT', corruptWriteRate: 1 }] });
    const puts = client.stats.storage['s3 PUT'] ?? 0;
    for (const file of [intact, damaged]) {
      // A retried job (catalog first), and a repeated delivery that does not know it is one (If-None-Match).
      for (const retry of [true, false]) expect((await uploadFile(client, { scope, ...file, dataset, rse: 'LAKE_S3', retry })).alreadyRegistered).toBe(true);
    }
    expect(client.stats.storage['s3 PUT'] ?? 0).toBe(puts + 2); // the two If-None-Match attempts, refused
    expect(lake.faults.counters().storage.corruptedWrites).toBe(1);
    lake.faults.clear();
    // What a consumer verified stays verified; what it found corrupted stays corrupted (its report stands).
    expect(Buffer.from((await fetchVerified(client, await replicaOf(intact.name))).bytes).equals(intact.bytes)).toBe(true);
    await expect(fetchVerified(client, await replicaOf(damaged.name))).rejects.toBeInstanceOf(ChecksumMismatchError);
    expect(await collect(client.listContent(dataset.scope, dataset.name))).toHaveLength(2);
  });

  it('restores on a retried upload an AVAILABLE replica whose object was lost from storage', async () => {
    const dataset = { scope, name: `${run}.restore` };
    await client.addDataset(dataset.scope, dataset.name);
    const bytes = randomBytes(2048);
    const name = `${run}-restore`;
    const uploaded = await uploadFile(client, { scope, name, bytes, dataset, rse: 'LAKE_S3' });
    const store = await client.storage.forPfn('LAKE_S3', uploaded.pfn, 'write');
    await store.delete(uploaded.pfn);
    expect(await store.stat(uploaded.pfn)).toBeUndefined();
    expect((await uploadFile(client, { scope, name, bytes, dataset, rse: 'LAKE_S3', retry: true })).alreadyRegistered).toBe(true);
    expect(Buffer.from((await fetchVerified(client, await replicaOf(name))).bytes).equals(bytes)).toBe(true);
  });

  it('writes the object of a rucio-compatible upload interrupted between its registration and its PUT before declaring it AVAILABLE', async () => {
    const dataset = { scope, name: `${run}.copying` };
    await client.addDataset(dataset.scope, dataset.name);
    const bytes = randomBytes(1024);
    const name = `${run}-copying`;
    await client.addReplicas('LAKE_S3', [{ scope, name, bytes: bytes.byteLength, ...checksums(bytes), state: 'C' }], { ignoreAvailability: true });
    const result = await uploadFile(client, { scope, name, bytes, dataset, rse: 'LAKE_S3', mode: 'rucio-compatible' });
    expect(result.alreadyRegistered).toBe(true);
    const replica = await replicaOf(name);
    expect(replica.states.LAKE_S3).toBe('AVAILABLE');
    expect(Buffer.from((await fetchVerified(client, replica)).bytes).equals(bytes)).toBe(true);
    expect(await client.isAttached({ scope, name }, dataset)).toBe(true);
  });

  it('completes a half-done upload: DID registered but not attached', async () => {
    const dataset = { scope, name: `${run}.half` };
    await client.addDataset(dataset.scope, dataset.name);
    const bytes = randomBytes(512);
    const name = `${run}-half`;
    const sums = checksums(bytes);
    await client.addReplicas('LAKE_S3', [{ scope, name, bytes: bytes.byteLength, ...sums, state: 'A' }]);
    // The attach with rse skips the registered replica and attaches the file: one call completes it,
    // as on a real Rucio (the conformance suite checks the lake answers so).
    const result = await uploadFile(client, { scope, name, bytes, dataset, rse: 'LAKE_S3' });
    expect(result.alreadyRegistered).toBe(false);
    expect(await client.isAttached({ scope, name }, dataset)).toBe(true);
    expect(Buffer.from((await fetchVerified(client, await replicaOf(name))).bytes).equals(bytes)).toBe(true);
  });

  it('supports the official client sequence as rucio-compatible mode', async () => {
    const dataset = { scope, name: `${run}.compat` };
    await client.addDataset(dataset.scope, dataset.name);
    const before = client.stats.byEndpoint;
    const bytes = randomBytes(1000);
    await uploadFile(client, { scope, name: `${run}-compat`, bytes, dataset, rse: 'LAKE_S3', mode: 'rucio-compatible' });
    const after = client.stats.byEndpoint;
    for (const endpoint of ['GET /dids/{scope}/{name}/meta', 'POST /replicas', 'PUT /replicas', 'POST /dids/{scope}/{name}/dids']) {
      expect((after[endpoint] ?? 0) - (before[endpoint] ?? 0), endpoint).toBe(1);
    }
    expect((await replicaOf(`${run}-compat`)).states.LAKE_S3).toBe('AVAILABLE');
  });

  it('filters replicas by updated_after and RSE, and parses metalink the same', async () => {
    const dataset = { scope, name: `${run}.LAKE_S3` };
    const all = await collect(client.listReplicas({ dids: [dataset] }));
    expect(all.length).toBeGreaterThan(0);
    expect(await collect(client.listReplicas({ dids: [dataset], updatedAfter: Date.now() + 3_600_000 }))).toEqual([]);
    expect(await collect(client.listReplicas({ dids: [dataset], updatedAfter: new Date(Date.now() - 3_600_000) }))).toHaveLength(all.length);
    expect(await collect(client.listReplicas({ dids: [dataset], rseExpression: 'LAKE_POSIX' }))).toEqual([]);
    const metalink = await collect(client.listReplicas({ dids: [dataset], metalink: true }));
    expect(metalink.map((r) => [r.name, r.adler32, r.md5, r.bytes, r.pfns[0]?.pfn])).toEqual(all.map((r) => [r.name, r.adler32, r.md5, r.bytes, r.pfns[0]?.pfn]));
  });

  it('searches DIDs, reads metadata, adds a rule and closes a dataset', async () => {
    const found = await collect(client.searchDids(scope, { name: `${run}-LAKE_S3-*`, type: 'file' }));
    expect(found.map((d) => d.name)).toEqual([`${run}-LAKE_S3-1.hdf5`]);
    const meta = await client.getMetadata(scope, `${run}-LAKE_S3-1.hdf5`);
    expect(meta.adler32).toMatch(/^[0-9a-f]{8}$/);
    const dataset = { scope, name: `${run}.closing` };
    await client.addDataset(dataset.scope, dataset.name);
    const ids = await client.addRule({ dids: [dataset], copies: 1, rseExpression: 'LAKE_S3' });
    expect(ids).toHaveLength(1);
    await client.closeDataset(dataset.scope, dataset.name);
    expect((await client.getDid(dataset.scope, dataset.name)).open).toBe(false);
    const error = await uploadFile(client, { scope, name: `${run}-late`, bytes: randomBytes(10), dataset, rse: 'LAKE_S3' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RucioConflictError);
    expect((error as Error).message).toMatch(/UnsupportedOperation/);
  });

  it('signs storage URLs for sign_url RSEs', async () => {
    const url = await client.signUrl({ rse: 'LAKE_SIGNED', operation: 'read', url: `${lake.settings.rses.find((r) => r.name === 'LAKE_SIGNED')!.pfnPrefix}x` });
    expect(url).toMatch(/X-Amz-Signature=/);
  });
});

describe('failures a user would see', () => {
  it('retries injected 503s on the catalog and still uploads once', async () => {
    const dataset = { scope, name: `${run}.faults` };
    await client.addDataset(dataset.scope, dataset.name);
    lake.faults.set({ catalog: [{ path: '^/dids/.+/dids$', method: 'POST', errorBurst: 2, status: 503 }] });
    const retries = client.stats.retries;
    await uploadFile(client, { scope, name: `${run}-503`, bytes: randomBytes(100), dataset, rse: 'LAKE_S3' });
    expect(client.stats.retries - retries).toBe(2);
    expect(await collect(client.listContent(dataset.scope, dataset.name))).toHaveLength(1);
  });

  it('gives up with a transient error when the 503s do not stop', async () => {
    const dataset = { scope, name: `${run}.faults` };
    lake.faults.set({ catalog: [{ path: '^/dids/.+/dids$', method: 'POST', errorRate: 1, status: 503 }] });
    const error = await uploadFile(client, { scope, name: `${run}-503x`, bytes: randomBytes(100), dataset, rse: 'LAKE_S3' }).catch((e: unknown) => e);
    expect((error as { retryable?: boolean }).retryable).toBe(true);
    expect((error as Error).message).toMatch(/register on LAKE_S3 and attach to dataset wavefier:.*faults <- wavefier:.*503x failed: HTTP 503 ResourceTemporaryUnavailable/);
  });

  it('reads back before repeating a write whose connection dropped', async () => {
    const dataset = { scope, name: `${run}.faults` };
    lake.faults.set({ catalog: [{ path: '^/dids/.+/dids$', method: 'POST', dropBurst: 1 }] });
    const parentsBefore = client.stats.byEndpoint['GET /dids/{scope}/{name}/parents'] ?? 0;
    await uploadFile(client, { scope, name: `${run}-drop`, bytes: randomBytes(100), dataset, rse: 'LAKE_S3' });
    expect((client.stats.byEndpoint['GET /dids/{scope}/{name}/parents'] ?? 0) - parentsBefore).toBe(1);
    expect(await client.isAttached({ scope, name: `${run}-drop` }, dataset)).toBe(true);
  });

  it('rides out storage 5xx bursts on PUT and GET', async () => {
    const dataset = { scope, name: `${run}.faults` };
    lake.faults.set({ storage: [{ method: 'PUT', errorBurst: 2, status: 503 }] });
    const bytes = randomBytes(3000);
    await uploadFile(client, { scope, name: `${run}-s503`, bytes, dataset, rse: 'LAKE_S3' });
    lake.faults.set({ storage: [{ method: 'GET', errorBurst: 2, status: 503 }] });
    const fetched = await fetchVerified(client, await replicaOf(`${run}-s503`));
    expect(Buffer.from(fetched.bytes).equals(bytes)).toBe(true);
    expect(lake.faults.counters().storage.errors).toBeGreaterThanOrEqual(4);
  });

  it('does not register a file whose bytes could not be stored', async () => {
    const dataset = { scope, name: `${run}.faults` };
    lake.faults.set({ storage: [{ method: 'PUT', errorRate: 1, status: 503 }] });
    const error = await uploadFile(client, { scope, name: `${run}-nostore`, bytes: randomBytes(10), dataset, rse: 'LAKE_S3' }).catch((e: unknown) => e);
    expect((error as { retryable?: boolean }).retryable).toBe(true);
    expect((error as Error).message).toMatch(/storage put of https:\/\/127\.0\.0\.1:\d+\/wavefier-lake\/wavefier\/.*nostore failed/);
    lake.faults.clear();
    await expect(client.getDid(scope, `${run}-nostore`)).rejects.toBeInstanceOf(RucioNotFoundError);
  });

  it('sends the md5 with every PUT: bytes damaged on the way are refused by the storage, not stored', async () => {
    const bytes = randomBytes(4096);
    const target = await client.storage.writeTarget('LAKE_S3', scope, `${run}-digest`);
    await target.store.put(target.pfn, bytes, { md5: checksums(bytes).md5 });
    const damaged = Buffer.from(bytes);
    damaged[100] = (damaged[100] ?? 0) ^ 0xff;
    const error = await target.store.put(target.pfn, damaged, { md5: checksums(bytes).md5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageTransientError);
    expect((error as Error).message).toMatch(/BadDigest/);
    expect(Buffer.from(await target.store.get(target.pfn)).equals(bytes)).toBe(true);
  });

  it('detects corruption on download and uses a clean second read', async () => {
    const dataset = { scope, name: `${run}.corrupt` };
    await client.addDataset(dataset.scope, dataset.name);
    const bytes = randomBytes(4096);
    await uploadFile(client, { scope, name: `${run}-corrupt`, bytes, dataset, rse: 'LAKE_S3' });
    const replica = await replicaOf(`${run}-corrupt`);
    lake.faults.set({ storage: [{ method: 'GET', corruptReadBurst: 1 }] });
    const fetched = await fetchVerified(client, replica);
    expect(fetched.attempts).toBe(2);
    expect(Buffer.from(fetched.bytes).equals(bytes)).toBe(true);
    lake.faults.set({ storage: [{ method: 'GET', corruptReadRate: 1 }] });
    const error = await fetchVerified(client, replica).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect((error as ChecksumMismatchError).expected.adler32).toBe(checksums(bytes).adler32);
    expect((error as ChecksumMismatchError).actual).toHaveLength(2);
    expect((error as ChecksumMismatchError).exitCode).toBe(ExitCode.integrity);
    const dest = join(dir, 'down', 'corrupt');
    await expect(downloadFile(client, replica, { destDir: dest })).rejects.toBeInstanceOf(ChecksumMismatchError);
    await expect(stat(join(dest, `${run}-corrupt`))).rejects.toThrow(/ENOENT/);
  });

  it('moves on to the next replica when one is corrupt', async () => {
    const dataset = { scope, name: `${run}.multi` };
    await client.addDataset(dataset.scope, dataset.name);
    const bytes = randomBytes(2048);
    const name = `${run}-multi`;
    const uploaded = await uploadFile(client, { scope, name, bytes, dataset, rse: 'LAKE_S3' });
    // A second replica on the posix RSE, whose bytes then rot on disk.
    const posix = await client.storage.writeTarget('LAKE_POSIX', scope, name);
    await posix.store.put(posix.pfn, bytes);
    await client.addReplicas('LAKE_POSIX', [{ scope, name, bytes: bytes.byteLength, adler32: uploaded.adler32, md5: uploaded.md5, state: 'A' }]);
    await writeFile(new URL(posix.pfn.replace('file://localhost', 'file://')), randomBytes(2048));
    const replica = await replicaOf(name);
    expect(replica.pfns.map((p) => p.rse).sort()).toEqual(['LAKE_POSIX', 'LAKE_S3']);
    // Whatever the server's order, put the rotten replica first.
    const rottenFirst = { ...replica, pfns: [...replica.pfns].sort((a) => (a.rse === 'LAKE_POSIX' ? -1 : 1)) };
    const fetched = await fetchVerified(client, rottenFirst);
    expect(fetched.rse).toBe('LAKE_S3');
    expect(Buffer.from(fetched.bytes).equals(bytes)).toBe(true);
    expect(fetched.attempts).toBe(3);
  });

  it('refuses names that would escape the destination directory', async () => {
    const replica = await replicaOf(`${run}-LAKE_S3-1.hdf5`);
    const dest = join(dir, 'down', 'escape');
    for (const relativeName of ['../outside', '/etc/passwd', 'a/../../b', '']) {
      await expect(downloadFile(client, replica, { destDir: dest, relativeName })).rejects.toBeInstanceOf(UsageError);
    }
    await expect(downloadFile(client, { ...replica, name: '../evil' }, { destDir: dest })).rejects.toThrow("'../evil' cannot be used as a path");
  });

  it('reports a wrong password as an authentication error (exit 2)', async () => {
    const bad = newClient({ password: 'wrong', tokenCacheDir: join(dir, 'tokens-bad') });
    const error = await bad.whoami().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RucioAuthenticationError);
    expect((error as RucioAuthenticationError).exitCode).toBe(ExitCode.usage);
    expect((error as Error).message).not.toContain('wrong');
    await bad.close();
  });
});

describe('writeFileAtomically', () => {
  it('writes through a temporary name, replaces atomically and survives a removed directory', async () => {
    const { writeFileAtomically } = await import('../../src/rucio/index.js');
    const { readdir } = await import('node:fs/promises');
    const dest = join(dir, 'atomic');
    const path = await writeFileAtomically(dest, 'sub/a.bin', Buffer.from('one'));
    expect(path).toBe(join(dest, 'sub', 'a.bin'));
    await writeFileAtomically(dest, 'sub/a.bin', Buffer.from('two'));
    expect(await readFile(path, 'utf8')).toBe('two');
    expect(await readdir(join(dest, 'sub'))).toEqual(['a.bin']);
    await rm(dest, { recursive: true, force: true });
    await writeFileAtomically(dest, 'sub/a.bin', Buffer.from('three'));
    expect(await readFile(path, 'utf8')).toBe('three');
  });
});
