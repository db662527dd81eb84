import { Readable } from 'node:stream';
import { readFile } from 'node:fs/promises';
import { GetObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lfn2path } from '../../src/rucio/index.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';

let lake: TestLake;

function client(extra: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint: lake.settings.s3.endpoint,
    region: lake.settings.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: lake.settings.s3.accessKeyId, secretAccessKey: lake.settings.s3.secretAccessKey },
    ...extra,
  });
}

const safe = { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } as const;

async function getBytes(s3: S3Client, key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket: 'wavefier-lake', Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

beforeAll(async () => {
  lake = await startTestLake();
});
afterAll(async () => {
  await lake.dispose();
});

describe('lake storage (s3rver behind the lake)', () => {
  it('stores and serves the exact bytes of a Buffer PUT at the deterministic key', async () => {
    const s3 = client(safe);
    const key = lfn2path('wavefier', 'chunk-1.hdf5');
    const bytes = Buffer.from(Array.from({ length: 33_000 }, (_, i) => (i * 7) % 251));
    await s3.send(new PutObjectCommand({ Bucket: 'wavefier-lake', Key: key, Body: bytes }));
    expect((await getBytes(s3, key)).equals(bytes)).toBe(true);
    const onDisk = await readFile(`${lake.settings.dir}/s3/wavefier-lake/${key}._S3rver_object`);
    expect(onDisk.equals(bytes)).toBe(true);
  });

  it('answers HEAD, ranges and missing keys like S3', async () => {
    const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
    const s3 = client(safe);
    const bytes = Buffer.from('0123456789');
    await s3.send(new PutObjectCommand({ Bucket: 'wavefier-lake', Key: 'misc/head.bin', Body: bytes, ContentType: 'application/x-hdf5' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'wavefier-lake', Key: 'misc/head.bin' }));
    expect(head.ContentLength).toBe(10);
    expect(head.ContentType).toBe('application/x-hdf5');
    expect(head.ETag).toBe('"781e5e245d69b566979b86e28d23f2c7"');
    const range = await s3.send(new GetObjectCommand({ Bucket: 'wavefier-lake', Key: 'misc/head.bin', Range: 'bytes=2-4' }));
    expect(Buffer.from(await range.Body!.transformToByteArray()).toString()).toBe('234');
    await expect(s3.send(new GetObjectCommand({ Bucket: 'wavefier-lake', Key: 'misc/none.bin' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
    const wrongKey = new S3Client({ endpoint: lake.settings.s3.endpoint, region: 'us-east-1', forcePathStyle: true, ...safe, credentials: { accessKeyId: 'NOTOURS', secretAccessKey: 'x' } });
    await expect(wrongKey.send(new GetObjectCommand({ Bucket: 'wavefier-lake', Key: 'misc/head.bin' }))).rejects.toMatchObject({ name: 'InvalidAccessKeyId' });
  });

  it('honours If-None-Match: * on PUT (conditional create), unlike s3rver', async () => {
    const s3 = client(safe);
    await s3.send(new PutObjectCommand({ Bucket: 'wavefier-lake', Key: 'misc/once.bin', Body: Buffer.from('first'), IfNoneMatch: '*' }));
    await expect(s3.send(new PutObjectCommand({ Bucket: 'wavefier-lake', Key: 'misc/once.bin', Body: Buffer.from('second'), IfNoneMatch: '*' }))).rejects.toMatchObject({
      name: 'PreconditionFailed',
      $metadata: { httpStatusCode: 412 },
    });
    expect((await getBytes(s3, 'misc/once.bin')).toString()).toBe('first');
  });

  it('checks SigV4 signatures: a wrong secret, a tampered or expired presigned URL are refused', async () => {
    const wrongSecret = new S3Client({
      endpoint: lake.settings.s3.endpoint, region: 'us-east-1', forcePathStyle: true, ...safe,
      credentials: { accessKeyId: lake.settings.s3.accessKeyId, secretAccessKey: 'not-the-secret' },
    });
    await expect(wrongSecret.send(new PutObjectCommand({ Bucket: 'wavefier-lake', Key: 'misc/forged.bin', Body: Buffer.from('x') }))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    });
    const pfn = `${lake.settings.rses.find((rse) => rse.name === 'LAKE_SIGNED')?.pfnPrefix ?? ''}${lfn2path('wavefier', 'sig.bin')}`;
    const signUrl = async (lifetime: number): Promise<string> =>
      (await lake.rucio(`/credentials/signurl?rse=LAKE_SIGNED&op=write&url=${encodeURIComponent(pfn)}&lifetime=${lifetime}`)).text();
    // A long-lived URL for the tampering check: on a busy machine a 1 s URL could expire first.
    const tampered = (await signUrl(600)).replace('sig.bin', 'other.bin');
    const url = await signUrl(1);
    const refused = await lake.storageFetch(tampered, { method: 'PUT', body: 'x' });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const expired = await lake.storageFetch(url, { method: 'PUT', body: 'x' });
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('expired');
  });

  it('pins the s3rver trap: default SDK checksums + a streamed body store aws-chunked framing; safe settings do not', async () => {
    const bytes = Buffer.from('h(t) strain bytes that must arrive unchanged\n'.repeat(200));
    const trapped = 'trap/default-checksums.bin';
    await client().send(new PutObjectCommand({ Bucket: 'wavefier-lake', Key: trapped, Body: Readable.from([bytes]), ContentLength: bytes.length }));
    const stored = await getBytes(client(safe), trapped);
    expect(stored.equals(bytes)).toBe(false);
    expect(stored.toString('latin1')).toMatch(/x-amz-checksum-crc32:/);

    const fine = 'trap/when-required.bin';
    await client(safe).send(new PutObjectCommand({ Bucket: 'wavefier-lake', Key: fine, Body: Readable.from([bytes]), ContentLength: bytes.length }));
    expect((await getBytes(client(safe), fine)).equals(bytes)).toBe(true);
  });

  it('refuses anonymous requests with an S3 AccessDenied', async () => {
    const response = await fetch(`${lake.settings.s3.endpoint}/wavefier-lake/anything`);
    expect(response.status).toBe(403);
    expect(await response.text()).toMatch(/<Code>AccessDenied<\/Code>/);
  });

  it('signs URLs for LAKE_SIGNED (write, read, delete) that work over the storage TLS endpoint', async () => {
    const pfn = `${lake.settings.rses.find((rse) => rse.name === 'LAKE_SIGNED')?.pfnPrefix ?? ''}${lfn2path('wavefier', 'signed.hdf5')}`;
    const sign = async (op: string): Promise<string> => {
      const response = await lake.rucio(`/credentials/signurl?rse=LAKE_SIGNED&svc=s3&op=${op}&url=${encodeURIComponent(pfn)}&lifetime=600`);
      expect(response.status).toBe(200);
      return response.text();
    };
    const put = await lake.storageFetch(await sign('write'), { method: 'PUT', body: 'signed bytes' });
    expect(put.status).toBe(200);
    const get = await lake.storageFetch(await sign('read'));
    expect(await get.text()).toBe('signed bytes');
    expect((await lake.storageFetch(await sign('delete'), { method: 'DELETE' })).status).toBe(204);
    expect((await lake.storageFetch(await sign('read'))).status).toBe(404);
    const bad = await lake.rucio(`/credentials/signurl?rse=LAKE_SIGNED&op=write&url=${encodeURIComponent('http://elsewhere/other-bucket/x')}`);
    expect(bad.status).toBe(400);
    const posix = await lake.rucio(`/credentials/signurl?rse=LAKE_POSIX&op=read&url=${encodeURIComponent(pfn)}`);
    expect(posix.status).toBe(409);
  });

  it('lists replicas of a sign_url RSE with URLs already signed for reading', async () => {
    await lake.rucio('/dids/wavefier/signed-ds', { method: 'POST', body: JSON.stringify({ type: 'DATASET' }) });
    const bytes = Buffer.from('listed and signed');
    const { adler32, md5 } = await import('../../src/common/checksum.js').then((m) => m.checksums(bytes));
    const pfn = `${lake.settings.rses.find((rse) => rse.name === 'LAKE_SIGNED')?.pfnPrefix ?? ''}${lfn2path('wavefier', 's.bin')}`;
    const write = await (await lake.rucio(`/credentials/signurl?rse=LAKE_SIGNED&op=write&url=${encodeURIComponent(pfn)}`)).text();
    expect((await lake.storageFetch(write, { method: 'PUT', body: bytes })).status).toBe(200);
    const attach = await lake.rucio('/dids/wavefier/signed-ds/dids', {
      method: 'POST',
      body: JSON.stringify({ rse: 'LAKE_SIGNED', dids: [{ scope: 'wavefier', name: 's.bin', bytes: bytes.length, adler32, md5 }] }),
    });
    expect(attach.status).toBe(201);
    const listed = JSON.parse(await (await lake.rucio('/replicas/list', { method: 'POST', body: JSON.stringify({ dids: [{ scope: 'wavefier', name: 'signed-ds' }] }) })).text()) as { rses: Record<string, string[]> };
    const url = listed.rses.LAKE_SIGNED?.[0] ?? '';
    expect(url).toContain('X-Amz-Signature=');
    expect(await (await lake.storageFetch(url)).text()).toBe('listed and signed');
  });

  it('writes rse-accounts.cfg and rucio.cfg with mode 0600 and usable values', async () => {
    const { stat } = await import('node:fs/promises');
    expect((await stat(lake.settings.rseAccountsPath)).mode & 0o777).toBe(0o600);
    expect((await stat(lake.settings.rucioCfgPath)).mode & 0o777).toBe(0o600);
    expect((await stat(`${lake.settings.dir}/admin-token`)).mode & 0o777).toBe(0o600);
    const accounts = JSON.parse(await readFile(lake.settings.rseAccountsPath, 'utf8')) as Record<string, Record<string, unknown>>;
    expect(accounts.LAKE_S3).toMatchObject({ access_key: lake.settings.s3.accessKeyId, secret_key: lake.settings.s3.secretAccessKey, is_secure: false, signature_version: 's3v4', region: 'us-east-1', path_style: true, endpoint: lake.settings.s3.endpoint });
    expect(accounts.LAKE_SIGNED).toBeUndefined();
    const cfg = await readFile(lake.settings.rucioCfgPath, 'utf8');
    expect(cfg).toContain(`[client]\nrucio_host = ${lake.settings.rucioHost}\nauth_host = ${lake.settings.authHost}\nauth_type = userpass\nusername = wavefier\npassword = ${lake.settings.password}\naccount = root\nca_cert = ${lake.settings.caCert}\n`);
  });
});
