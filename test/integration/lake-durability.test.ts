import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { checksums } from '../../src/common/checksum.js';
import { lfn2path } from '../../src/rucio/index.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function s3For(lake: TestLake): S3Client {
  return new S3Client({
    endpoint: lake.settings.s3.endpoint,
    region: lake.settings.s3.region,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: lake.settings.s3.accessKeyId, secretAccessKey: lake.settings.s3.secretAccessKey },
  });
}

describe('lake durability and concurrency', () => {
  it('keeps DIDs, replicas, rules, objects, credentials and tokens across a restart on the same dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wavefier-lake-restart-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const first = await startTestLake({ dir });
    const token = await first.token();
    const bytes = Buffer.from('survives a restart');
    const sums = checksums(bytes);
    await s3For(first).send(new PutObjectCommand({ Bucket: 'wavefier-lake', Key: lfn2path('wavefier', 'keep.bin'), Body: bytes }));
    const rules = [{ account: 'root', copies: 1, rse_expression: 'LAKE_S3', grouping: 'DATASET', lifetime: null }];
    expect((await first.rucio('/dids/wavefier/keep', { method: 'POST', body: JSON.stringify({ type: 'DATASET', rules }) })).status).toBe(201);
    expect(
      (await first.rucio('/dids/wavefier/keep/dids', { method: 'POST', body: JSON.stringify({ rse: 'LAKE_S3', dids: [{ scope: 'wavefier', name: 'keep.bin', bytes: bytes.length, ...sums }] }) })).status,
    ).toBe(201);
    const before = await (await first.rucio('/replicas/list', { method: 'POST', body: JSON.stringify({ dids: [{ scope: 'wavefier', name: 'keep' }] }) })).text();
    const settings = first.settings;
    await first.dispose({ keepDir: true });

    const second = await startTestLake({ dir });
    cleanups.push(() => second.dispose({ keepDir: true }));
    expect(second.settings.password).toBe(settings.password);
    expect(second.settings.adminToken).toBe(settings.adminToken);
    expect(second.settings.s3.accessKeyId).toBe(settings.s3.accessKeyId);
    expect((await second.rucio('/dids/wavefier/keep?dynamic_depth=FILE', { token })).status).toBe(200);
    expect(await (await second.rucio('/dids/wavefier/keep?dynamic_depth=FILE', { token })).json()).toMatchObject({ length: 1, bytes: bytes.length });
    const after = await (await second.rucio('/replicas/list', { method: 'POST', body: JSON.stringify({ dids: [{ scope: 'wavefier', name: 'keep' }] }), token })).text();
    // Ports may change across a restart, and LAKE_S3's URLs are signed when listed (at each listing's time).
    const port = (url: string): string => url.replace(/127\.0\.0\.1:\d+/g, 'HOST').replace(/\?X-Amz-[^"]*/g, '?SIGNED');
    expect(port(after)).toBe(port(before));
    expect(await (await second.rucio('/dids/wavefier/keep/rules', { token })).text()).toMatch(/"rse_expression":"LAKE_S3"/);
    const object = await s3For(second).send(new GetObjectCommand({ Bucket: 'wavefier-lake', Key: lfn2path('wavefier', 'keep.bin') }));
    expect(Buffer.from(await object.Body!.transformToByteArray()).equals(bytes)).toBe(true);
  });

  it('rejects an expired token with 401 CannotAuthenticate', async () => {
    const lake = await startTestLake({ tokenLifetimeMs: 300 });
    cleanups.push(() => lake.dispose());
    const token = await lake.token();
    expect((await lake.rucio('/accounts/root', { token })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const response = await lake.rucio('/accounts/root', { token });
    expect(response.status).toBe(401);
    expect(response.headers.get('exceptionclass')).toBe('CannotAuthenticate');
  });

  it('lands 100 concurrent attaches with rse: length 100, 100 replicas, no errors', async () => {
    const lake = await startTestLake();
    cleanups.push(() => lake.dispose());
    expect((await lake.rucio('/dids/wavefier/many', { method: 'POST', body: JSON.stringify({ type: 'DATASET' }) })).status).toBe(201);
    const token = await lake.token();
    const statuses = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const bytes = Buffer.from(`chunk ${i}`);
        const response = await lake.rucio('/dids/wavefier/many/dids', {
          method: 'POST',
          token,
          body: JSON.stringify({ rse: 'LAKE_S3', dids: [{ scope: 'wavefier', name: `c-${String(i).padStart(3, '0')}.hdf5`, bytes: bytes.length, ...checksums(bytes) }] }),
        });
        return response.status;
      }),
    );
    expect(statuses.every((status) => status === 201)).toBe(true);
    expect(await (await lake.rucio('/dids/wavefier/many?dynamic_depth=FILE', { token })).json()).toMatchObject({ length: 100 });
    const listed = await (await lake.rucio('/replicas/list', { method: 'POST', token, body: JSON.stringify({ dids: [{ scope: 'wavefier', name: 'many' }] }) })).text();
    expect(listed.trim().split('\n')).toHaveLength(100);
    const content = await (await lake.rucio('/dids/wavefier/many/dids', { token })).text();
    expect(new Set(content.trim().split('\n')).size).toBe(100);
  });
});
