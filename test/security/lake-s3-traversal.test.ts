import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTree, signedS3, startSandboxLake, type RawResponse, type SandboxLake } from './helpers.js';

let box: SandboxLake;
beforeAll(async () => {
  box = await startSandboxLake();
});
afterAll(async () => {
  await box.dispose();
});

const bucket = '/wavefier-lake/';
const marker = (): string => `escape-${randomBytes(4).toString('hex')}`;

/** The response is an S3 XML error with `code`, and says nothing of where the lake keeps its files. */
function expectRefusal(response: RawResponse, status: number, code: string): void {
  expect(response.status, response.body).toBe(status);
  expect(response.body).toContain(`<Code>${code}</Code>`);
  expect(response.body).not.toContain(box.sandbox);
  expect(response.body).not.toContain('_S3rver_');
}

/** Runs `attack` and checks that no file or directory appeared anywhere in the sandbox (the lake included). */
async function nothingWritten(attack: () => Promise<void>): Promise<void> {
  const before = await listTree(box.sandbox);
  await attack();
  expect(await listTree(box.sandbox)).toEqual(before);
}

describe('lake S3: object keys cannot leave the bucket (issue 15)', () => {
  it('control: the same signing serves an ordinary key, header-signed and presigned', async () => {
    for (const presignSeconds of [undefined, 600]) {
      const signing = presignSeconds === undefined ? {} : { presignSeconds };
      expect((await signedS3(box.lake, 'PUT', `${bucket}control/ok.bin`, { ...signing, body: 'fine' })).status).toBe(200);
      expect(await signedS3(box.lake, 'GET', `${bucket}control/ok.bin`, signing)).toMatchObject({ status: 200, body: 'fine' });
    }
  });

  const spellings: [string, string, string?][] = [
    ['plain ..', '..'],
    ['%2E%2E', '%2E%2E'],
    ['lower-case %2e%2e', '%2e%2e'],
    ['mixed .%2E', '.%2E'],
    ['double-encoded %252E%252E', '%252E%252E'],
    ['backslash separators', '..', '%5C'],
    ['fullwidth full stops (U+FF0E)', '%EF%BC%8E%EF%BC%8E'],
    ['small full stops (U+FE52)', '%EF%B9%92%EF%B9%92'],
    ['dot, dot, trailing space', '..%20'],
  ];

  for (const [name, dotdot, separator] of spellings) {
    it(`refuses a header-signed PUT climbing out with ${name}: 400, nothing written anywhere`, async () => {
      const target = marker();
      await nothingWritten(async () => {
        const response = await signedS3(box.lake, 'PUT', `${bucket}${box.climb(dotdot, separator)}${target}`, { body: 'escaped' });
        expectRefusal(response, 400, 'InvalidArgument');
      });
      expect(existsSync(join(box.sandbox, `${target}._S3rver_object`))).toBe(false);
    });
  }

  it('refuses a presigned PUT URL whose path climbs out: 400, nothing written', async () => {
    const target = marker();
    await nothingWritten(async () => {
      const response = await signedS3(box.lake, 'PUT', `${bucket}${box.climb('..')}${target}`, { body: 'escaped', presignSeconds: 600 });
      expectRefusal(response, 400, 'InvalidArgument');
    });
  });

  it('refuses to read outside the bucket (GET and a presigned GET), and never serves the file', async () => {
    const secret = `secret ${randomBytes(8).toString('hex')}`;
    await writeFile(join(box.sandbox, 'outside._S3rver_object'), secret);
    for (const presignSeconds of [undefined, 600]) {
      const response = await signedS3(box.lake, 'GET', `${bucket}${box.climb('%2E%2E')}outside`, presignSeconds === undefined ? {} : { presignSeconds });
      expectRefusal(response, 400, 'InvalidArgument');
      expect(response.body).not.toContain(secret);
    }
  });

  it('refuses a copy whose x-amz-copy-source climbs out (it would read any *._S3rver_object file)', async () => {
    await writeFile(join(box.sandbox, 'copied._S3rver_object'), 'not for copying');
    await nothingWritten(async () => {
      const response = await signedS3(box.lake, 'PUT', `${bucket}copy-target`, { headers: { 'x-amz-copy-source': `${bucket}${box.climb('..')}copied` } });
      expectRefusal(response, 400, 'InvalidArgument');
    });
  });

  it('refuses multipart parameters s3rver would join into a path (uploadId ../..)', async () => {
    await nothingWritten(async () => {
      const response = await signedS3(box.lake, 'PUT', `${bucket}part`, { query: { partNumber: '1', uploadId: '../../../../../../../../part-escape' }, body: 'part' });
      expectRefusal(response, 404, 'NoSuchUpload');
      const bad = await signedS3(box.lake, 'PUT', `${bucket}part`, { query: { partNumber: '../1', uploadId: 'a'.repeat(32) }, body: 'part' });
      expectRefusal(bad, 400, 'InvalidArgument');
    });
  });

  it('refuses a virtual-hosted bucket (Host: ...s3.amazonaws.com would make the bucket "..")', async () => {
    await nothingWritten(async () => {
      const response = await signedS3(box.lake, 'PUT', `/${marker()}`, { headers: { host: '...s3.amazonaws.com' }, body: 'vhost' });
      expectRefusal(response, 400, 'InvalidArgument');
    });
  });

  it('refuses an unknown or dot-dot bucket with NoSuchBucket', async () => {
    await nothingWritten(async () => {
      expectRefusal(await signedS3(box.lake, 'PUT', `/%2E%2E/${marker()}`, { body: 'x' }), 404, 'NoSuchBucket');
      expectRefusal(await signedS3(box.lake, 'PUT', `/other-bucket/${marker()}`, { body: 'x' }), 404, 'NoSuchBucket');
    });
  });

  it('refuses keys with NUL or control characters, and keys over 1024 bytes, without naming any server path', async () => {
    await nothingWritten(async () => {
      expectRefusal(await signedS3(box.lake, 'PUT', `${bucket}nul%00byte`, { body: 'x' }), 400, 'InvalidArgument');
      expectRefusal(await signedS3(box.lake, 'PUT', `${bucket}esc%1B%5B2J`, { body: 'x' }), 400, 'InvalidArgument');
      expectRefusal(await signedS3(box.lake, 'PUT', `${bucket}${'k'.repeat(1025)}`, { body: 'x' }), 400, 'KeyTooLongError');
      // An overlong UTF-8 form of '.' is not UTF-8 at all.
      expectRefusal(await signedS3(box.lake, 'PUT', `${bucket}x/%C0%AE%C0%AE/${marker()}`, { body: 'x' }), 400, 'InvalidURI');
    });
  });

  it('stores a key of 250+ characters (once a 500 naming the on-disk path) inside the bucket, and lists it back', async () => {
    const long = `long/${'a'.repeat(300)}/${'é'.repeat(200)}.bin`;
    const put = await signedS3(box.lake, 'PUT', `${bucket}${encodeURI(long)}`, { body: 'long key bytes' });
    expect(put.status, put.body).toBe(200);
    const get = await signedS3(box.lake, 'GET', `${bucket}${encodeURI(long)}`);
    expect(get).toMatchObject({ status: 200, body: 'long key bytes' });
    const tree = await listTree(box.sandbox);
    const stored = tree.filter((path) => path.endsWith('._S3rver_object') && path.includes('aaaa'));
    expect(stored.length).toBe(1);
    expect(stored[0]?.startsWith(join('a', 'b', 'c', 'lake', 's3', 'wavefier-lake', 'long'))).toBe(true);
    const s3 = new S3Client({
      endpoint: box.lake.settings.s3.endpoint,
      region: box.lake.settings.s3.region,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      credentials: { accessKeyId: box.lake.settings.s3.accessKeyId, secretAccessKey: box.lake.settings.s3.secretAccessKey },
    });
    try {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'wavefier-lake', Prefix: 'long/' }));
      expect(listed.Contents?.map((object) => object.Key)).toEqual([long]);
    } finally {
      s3.destroy();
    }
  });

  it('maps keys to paths by construction: a multi-object delete (keys in the XML body, past the gate) cannot remove a file outside', async () => {
    const victim = join(box.sandbox, 'victim._S3rver_object');
    await writeFile(victim, 'keep me');
    const s3 = new S3Client({
      endpoint: box.lake.settings.s3.endpoint,
      region: box.lake.settings.s3.region,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      credentials: { accessKeyId: box.lake.settings.s3.accessKeyId, secretAccessKey: box.lake.settings.s3.secretAccessKey },
    });
    try {
      await s3.send(new DeleteObjectsCommand({ Bucket: 'wavefier-lake', Delete: { Objects: [{ Key: `${box.climb('..')}victim` }, { Key: '../../../../../../victim' }] } }));
    } finally {
      s3.destroy();
    }
    expect(await readFile(victim, 'utf8')).toBe('keep me');
    expect(existsSync(join(box.sandbox, 'a', 'b', 'c'))).toBe(true);
  });
});
