import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checksums } from '../../src/common/checksum.js';
import { lfn2path } from '../../src/rucio/index.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';

let lake: TestLake;
let s3: S3Client;

beforeAll(async () => {
  lake = await startTestLake();
  s3 = new S3Client({
    endpoint: lake.settings.s3.endpoint,
    region: lake.settings.s3.region,
    forcePathStyle: true,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: lake.settings.s3.accessKeyId, secretAccessKey: lake.settings.s3.secretAccessKey },
  });
  await lake.rucio('/dids/wavefier/faulty', { method: 'POST', body: JSON.stringify({ type: 'DATASET' }) });
});
afterAll(async () => {
  await lake.dispose();
});
afterEach(() => {
  lake.faults.clear();
});

async function put(key: string, body: Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: 'wavefier-lake', Key: key, Body: body }));
}
async function get(key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket: 'wavefier-lake', Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}
const storedPath = (key: string): string => `${lake.settings.dir}/s3/wavefier-lake/${key}._S3rver_object`;

describe('catalog faults', () => {
  it('adds latency to matching requests only', async () => {
    lake.faults.set({ catalog: [{ path: '^/accounts/', latencyMs: 150 }] });
    let start = performance.now();
    expect((await lake.rucio('/accounts/root')).status).toBe(200);
    expect(performance.now() - start).toBeGreaterThanOrEqual(140);
    start = performance.now();
    await lake.rucio('/ping', { token: null });
    expect(performance.now() - start).toBeLessThan(140);
  });

  it('answers a burst of 503s with a Rucio-like body, then recovers', async () => {
    const before = lake.faults.counters().catalog.errors;
    lake.faults.set({ catalog: [{ path: '^/dids/', method: 'POST', errorBurst: 2, status: 503 }] });
    // A request the catalog takes once the burst is over (Rucio refuses an attach of no DIDs).
    const body = JSON.stringify({ rse: 'LAKE_POSIX', dids: [{ scope: 'wavefier', name: 'faulty-1.bin', bytes: 5, adler32: '05c801f0' }] });
    const first = await lake.rucio('/dids/wavefier/faulty/dids', { method: 'POST', body });
    expect(first.status).toBe(503);
    expect(first.headers.get('exceptionclass')).toBe('ResourceTemporaryUnavailable');
    expect(await first.json()).toMatchObject({ ExceptionClass: 'ResourceTemporaryUnavailable' });
    expect((await lake.rucio('/dids/wavefier/faulty/dids', { method: 'POST', body })).status).toBe(503);
    expect((await lake.rucio('/dids/wavefier/faulty/dids', { method: 'POST', body })).status).toBe(201);
    expect(lake.faults.counters().catalog.errors - before).toBe(2);
  });

  it('answers 500/502 at a rate of 1 and nothing at a rate of 0', async () => {
    lake.faults.set({ catalog: [{ path: '^/rses/', errorRate: 1, status: 502 }] });
    expect((await lake.rucio('/rses/')).status).toBe(502);
    lake.faults.set({ catalog: [{ path: '^/rses/', errorRate: 0, status: 500 }] });
    expect((await lake.rucio('/rses/')).status).toBe(200);
  });

  it('drops connections', async () => {
    lake.faults.set({ catalog: [{ path: '^/scopes', dropBurst: 1 }] });
    await expect(lake.rucio('/scopes/')).rejects.toThrow();
    expect((await lake.rucio('/scopes/')).status).toBe(200);
    expect(lake.faults.counters().catalog.drops).toBeGreaterThanOrEqual(1);
  });
});

describe('storage faults', () => {
  it('answers S3 5xx with an XML error body', async () => {
    lake.faults.set({ storage: [{ key: 'fault/5xx', method: 'PUT', errorBurst: 1, status: 503 }] });
    await expect(put('fault/5xx.bin', Buffer.from('x'))).rejects.toMatchObject({ $metadata: { httpStatusCode: 503 }, name: 'SlowDown' });
    await put('fault/5xx.bin', Buffer.from('x'));
    expect((await get('fault/5xx.bin')).toString()).toBe('x');
  });

  it('drops storage connections', async () => {
    lake.faults.set({ storage: [{ key: 'fault/drop', dropBurst: 1 }] });
    await expect(put('fault/drop.bin', Buffer.from('y'))).rejects.toThrow();
    expect(lake.faults.counters().storage.drops).toBeGreaterThanOrEqual(1);
  });

  it('corrupts on write: the stored bytes differ from the bytes sent', async () => {
    const bytes = Buffer.from('written and corrupted');
    lake.faults.set({ storage: [{ key: 'fault/cw', corruptWriteBurst: 1 }] });
    await put('fault/cw.bin', bytes);
    const served = await get('fault/cw.bin');
    expect(served.length).toBe(bytes.length);
    expect(checksums(served).adler32).not.toBe(checksums(bytes).adler32);
    expect((await readFile(storedPath('fault/cw.bin'))).equals(served)).toBe(true);
    expect(lake.faults.counters().storage.corruptedWrites).toBeGreaterThanOrEqual(1);
  });

  it('corrupts on read: the stored bytes stay intact, the served ones differ', async () => {
    const bytes = Buffer.from('stored intact, served corrupted');
    await put('fault/cr.bin', bytes);
    lake.faults.set({ storage: [{ key: 'fault/cr', corruptReadRate: 1 }] });
    expect((await get('fault/cr.bin')).equals(bytes)).toBe(false);
    expect((await readFile(storedPath('fault/cr.bin'))).equals(bytes)).toBe(true);
    lake.faults.clear();
    expect((await get('fault/cr.bin')).equals(bytes)).toBe(true);
  });
});

describe('the admin API over HTTP', () => {
  const admin = (path: string, init: RequestInit = {}, token = lake.settings.adminToken): Promise<Response> =>
    fetch(`${lake.settings.rucioHost}${path}`, { ...init, headers: { 'X-Lake-Admin-Token': token, ...(init.headers as Record<string, string> | undefined) } });

  it('refuses requests without the admin token', async () => {
    expect((await admin('/.lake/faults', {}, 'wrong')).status).toBe(401);
    expect((await lake.rucio('/.lake/faults')).status).toBe(401);
  });

  it('sets, reports and clears faults for other processes', async () => {
    const set = await admin('/.lake/faults', { method: 'POST', body: JSON.stringify({ catalog: [{ path: '^/rses/', errorBurst: 1, status: 500 }] }) });
    expect(set.status).toBe(200);
    expect((await lake.rucio('/rses/')).status).toBe(500);
    const report = (await (await admin('/.lake/faults')).json()) as { counters: { catalog: { errors: number } } };
    expect(report.counters.catalog.errors).toBeGreaterThanOrEqual(1);
    expect((await admin('/.lake/faults', { method: 'POST', body: JSON.stringify({ catalog: [{ errorRate: 2 }] }) })).status).toBe(400);
    expect((await admin('/.lake/faults', { method: 'POST', body: '{oops' })).status).toBe(400);
    expect((await admin('/.lake/faults', { method: 'DELETE' })).status).toBe(200);
    expect(lake.faults.rules()).toEqual({ catalog: [], storage: [] });
  });

  it('corrupts and deletes the object of a registered replica', async () => {
    const bytes = Buffer.from('a registered chunk');
    const key = lfn2path('wavefier', 'victim.hdf5');
    await put(key, bytes);
    await lake.rucio('/dids/wavefier/faulty/dids', {
      method: 'POST',
      body: JSON.stringify({ rse: 'LAKE_S3', dids: [{ scope: 'wavefier', name: 'victim.hdf5', bytes: bytes.length, ...checksums(bytes) }] }),
    });
    const ref = JSON.stringify({ scope: 'wavefier', name: 'victim.hdf5', rse: 'LAKE_S3' });
    expect((await admin('/.lake/objects/corrupt', { method: 'POST', body: ref })).status).toBe(200);
    expect(checksums(await get(key)).adler32).not.toBe(checksums(bytes).adler32);
    expect((await admin('/.lake/objects/delete', { method: 'POST', body: ref })).status).toBe(200);
    await expect(get(key)).rejects.toMatchObject({ name: 'NoSuchKey' });
    expect((await admin('/.lake/objects/delete', { method: 'POST', body: ref })).status).toBe(404);
    expect(lake.faults.counters().objects).toEqual({ corrupted: 1, deleted: 1 });
  });
});

describe('in-process object tampering and the posix RSE', () => {
  it('corrupts and deletes a LAKE_POSIX replica file', async () => {
    const posix = lake.settings.rses.find((rse) => rse.name === 'LAKE_POSIX')!;
    const path = `${posix.prefix}${lfn2path('wavefier', 'posix.hdf5')}`;
    const bytes = Buffer.from('a chunk on a posix RSE');
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    const attach = await lake.rucio('/dids/wavefier/faulty/dids', {
      method: 'POST',
      body: JSON.stringify({ rse: 'LAKE_POSIX', dids: [{ scope: 'wavefier', name: 'posix.hdf5', bytes: bytes.length, ...checksums(bytes) }] }),
    });
    expect(attach.status).toBe(201);
    const listed = await (await lake.rucio('/replicas/list', { method: 'POST', body: JSON.stringify({ dids: [{ scope: 'wavefier', name: 'posix.hdf5' }] }) })).text();
    expect((JSON.parse(listed) as { rses: Record<string, string[]> }).rses.LAKE_POSIX).toEqual([`file://localhost${path}`]);
    await lake.objects.corrupt({ scope: 'wavefier', name: 'posix.hdf5', rse: 'LAKE_POSIX' });
    expect(checksums(await readFile(path)).adler32).not.toBe(checksums(bytes).adler32);
    await lake.objects.delete({ scope: 'wavefier', name: 'posix.hdf5', rse: 'LAKE_POSIX' });
    await expect(readFile(path)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lake.objects.delete({ scope: 'wavefier', name: 'posix.hdf5', rse: 'LAKE_POSIX' })).rejects.toMatchObject({ code: 'not-found' });
    await expect(lake.objects.corrupt({ scope: 'wavefier', name: 'posix.hdf5', rse: 'NOPE' })).rejects.toMatchObject({ code: 'not-found' });
  });
});
