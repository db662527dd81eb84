import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestLake, type TestLake } from '../helpers/lake.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function s3For(lake: TestLake): S3Client {
  const s3 = new S3Client({
    endpoint: lake.settings.s3.endpoint,
    region: lake.settings.s3.region,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: lake.settings.s3.accessKeyId, secretAccessKey: lake.settings.s3.secretAccessKey },
  });
  cleanups.push(() => Promise.resolve(s3.destroy()));
  return s3;
}

const bucket = 'wavefier-lake';
const md5 = (bytes: Buffer): string => `"${createHash('md5').update(bytes).digest('hex')}"`;

async function get(s3: S3Client, key: string): Promise<{ bytes: Buffer; etag: string | undefined; contentType: string | undefined }> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { bytes: Buffer.from(await response.Body!.transformToByteArray()), etag: response.ETag, contentType: response.ContentType };
}

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wavefier-lake-objects-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function restart(lake: TestLake, dir: string): Promise<TestLake> {
  await lake.dispose({ keepDir: true });
  const next = await startTestLake({ dir });
  cleanups.push(() => next.dispose({ keepDir: true }));
  return next;
}

describe('lake object files (s3rver layout, written by the lake)', () => {
  it('serves objects, their ETag and stored headers after a restart, through the fast path and s3rver alike', async () => {
    const dir = await freshDir();
    let lake = await startTestLake({ dir });
    const plain = Buffer.from('plain object bytes '.repeat(100));
    const typed = Buffer.from('typed object');
    let s3 = s3For(lake);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'keep/plain.bin', Body: plain }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'keep/typed.bin', Body: typed, ContentType: 'application/x-hdf5', Metadata: { run: 'r1' } }));

    // The md5 is not kept in a file of its own: one file less to create per PUT.
    expect(existsSync(join(dir, 's3', bucket, 'keep', 'plain.bin._S3rver_object.md5'))).toBe(false);

    lake = await restart(lake, dir);
    s3 = s3For(lake);
    expect(await get(s3, 'keep/plain.bin')).toMatchObject({ bytes: plain, etag: md5(plain) });
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'keep/typed.bin' }));
    expect(head).toMatchObject({ ContentLength: typed.length, ETag: md5(typed), ContentType: 'application/x-hdf5' });
    const typedBack = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'keep/typed.bin' }));
    expect(typedBack).toMatchObject({ ETag: md5(typed), ContentType: 'application/x-hdf5', Metadata: { run: 'r1' } });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'keep/' }));
    expect(listed.Contents?.map((object) => [object.Key, object.ETag, object.Size])).toEqual([
      ['keep/plain.bin', md5(plain), plain.length],
      ['keep/typed.bin', md5(typed), typed.length],
    ]);
  });

  it('an overwrite replaces the ETag and headers an earlier run left on disk', async () => {
    const dir = await freshDir();
    let lake = await startTestLake({ dir });
    let s3 = s3For(lake);
    const first = Buffer.from('first version');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'over/x.bin', Body: first, ContentType: 'text/plain' }));
    // s3rver's listing writes the `.md5` file of the first version.
    await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'over/' }));
    expect(existsSync(join(dir, 's3', bucket, 'over', 'x.bin._S3rver_object.md5'))).toBe(true);

    lake = await restart(lake, dir);
    s3 = s3For(lake);
    const second = Buffer.from('second, longer version');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'over/x.bin', Body: second }));
    lake = await restart(lake, dir);
    s3 = s3For(lake);
    const back = await get(s3, 'over/x.bin');
    // The SDK sends its default Content-Type, which replaces the stored text/plain.
    expect(back).toMatchObject({ bytes: second, etag: md5(second), contentType: 'application/octet-stream' });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'over/' }));
    expect(listed.Contents?.[0]).toMatchObject({ ETag: md5(second), Size: second.length });
  });

  it('keeps a write-corrupted object silent across a restart: the ETag stays the md5 of the bytes sent', async () => {
    const dir = await freshDir();
    let lake = await startTestLake({ dir });
    const sent = Buffer.from('these bytes get corrupted on the way to disk');
    lake.faults.set({ storage: [{ key: 'bad/', corruptWriteBurst: 1 }] });
    await s3For(lake).send(new PutObjectCommand({ Bucket: bucket, Key: 'bad/w.bin', Body: sent }));
    lake = await restart(lake, dir);
    const back = await get(s3For(lake), 'bad/w.bin');
    expect(back.bytes.equals(sent)).toBe(false);
    expect(back.etag).toBe(md5(sent));
  });

  it('never serves a partly written object while it is being replaced', async () => {
    const lake = await startTestLake({ dir: await freshDir() });
    cleanups.push(() => lake.dispose({ keepDir: true }));
    const s3 = s3For(lake);
    const a = Buffer.alloc(200_000, 'a');
    const b = Buffer.alloc(50_000, 'b');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'swap/x.bin', Body: a }));
    const writes = Array.from({ length: 20 }, (_, i) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'swap/x.bin', Body: i % 2 === 0 ? b : a })));
    const reads = Array.from({ length: 40 }, () => get(s3, 'swap/x.bin'));
    await Promise.all(writes);
    for (const { bytes, etag } of await Promise.all(reads)) {
      expect(bytes.equals(a) || bytes.equals(b)).toBe(true);
      expect(etag).toBe(md5(bytes));
    }
  });

  it('serves an object tampered with on disk as it is', async () => {
    const dir = await freshDir();
    const lake = await startTestLake({ dir });
    cleanups.push(() => lake.dispose({ keepDir: true }));
    const s3 = s3For(lake);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tamper/x.bin', Body: Buffer.from('0123456789') }));
    const path = join(dir, 's3', bucket, 'tamper', 'x.bin._S3rver_object');
    await writeFile(path, 'short');
    expect((await get(s3, 'tamper/x.bin')).bytes.toString()).toBe('short');
    expect((await readFile(path)).toString()).toBe('short');
  });
});
