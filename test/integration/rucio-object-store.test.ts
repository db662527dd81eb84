import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FileStore,
  ObjectExistsError,
  ObjectNotFoundError,
  StorageError,
  StorageTransientError,
  BearerToken,
  type ObjectStore,
} from '../../src/rucio/index.js';
import { DavStore, HttpStore, S3DirectStore, S3Store } from '../../src/rucio/stores.js';
import { startS3rver } from '../fixtures/rucio/s3rver.js';
import { startDavs, type DavsServer } from '../helpers/davs.js';

const bucket = 'wavefier-lake';
let dir: string;
let s3: Awaited<ReturnType<typeof startS3rver>>;
let agent: Agent;
let signer: S3Client;
/** A real Apache httpd with mod_dav over TLS (../shared/peers/davs). */
let davs: DavsServer;
const davsPools: Agent[] = [];

beforeAll(async () => {
  davs = await startDavs();
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  dir = await mkdtemp(join(tmpdir(), 'rucio-store-'));
  s3 = await startS3rver(join(dir, 's3'), [bucket]);
  agent = new Agent({ keepAliveTimeout: 10_000 });
  signer = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
});

afterAll(async () => {
  await Promise.all(davsPools.map((pool) => pool.close()));
  await davs.stop();
  signer.destroy();
  await agent.close();
  await s3.close();
  await rm(dir, { recursive: true, force: true });
});

interface Backend {
  name: string;
  store: () => ObjectStore;
  pfn: (key: string) => string;
  /** Whether `put(..., {ifAbsent})` is enforced by this backend (s3rver ignores If-None-Match). */
  enforcesIfAbsent: boolean;
}

const backends: Backend[] = [
  {
    name: 's3 (s3rver)',
    store: () =>
      new S3Store({
        endpoint: s3.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        forcePathStyle: true,
        checksums: 'WHEN_REQUIRED',
      }),
    pfn: (key) => `s3://127.0.0.1:${s3.port}/${bucket}/conformance/s3/${key}`,
    enforcesIfAbsent: false,
  },
  {
    name: 's3 direct SigV4 engine (s3rver)',
    store: () =>
      new S3DirectStore({
        endpoint: s3.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        forcePathStyle: true,
        dispatcher: agent,
      }),
    pfn: (key) => `s3://127.0.0.1:${s3.port}/${bucket}/conformance/direct/${key}`,
    enforcesIfAbsent: false,
  },
  {
    name: 'file (posix)',
    store: () => new FileStore(),
    pfn: (key) => `file://localhost${dir}/posix/conformance/${key}`,
    enforcesIfAbsent: true,
  },
  {
    name: 'http (presigned S3 URLs)',
    store: () =>
      new HttpStore({
        scheme: 'http',
        dispatcher: agent,
        sign: async (operation, pfn) => {
          const { bucket: b, key } = S3Store.locate(pfn);
          const command =
            operation === 'write'
              ? new PutObjectCommand({ Bucket: b, Key: key })
              : operation === 'delete'
                ? new DeleteObjectCommand({ Bucket: b, Key: key })
                : new GetObjectCommand({ Bucket: b, Key: key });
          return getSignedUrl(signer, command, { expiresIn: 600 });
        },
      }),
    pfn: (key) => `http://127.0.0.1:${s3.port}/${bucket}/conformance/http/${key}`,
    enforcesIfAbsent: false,
  },
  davsBackend('X.509 certificate', 'dav', (info) => ({ cert: readFileSync(info.client_cert), key: readFileSync(info.client_key) })),
  davsBackend('RFC 3820 proxy', 'dav', (info) => ({ cert: readFileSync(info.proxy), key: readFileSync(info.proxy) })),
  davsBackend('bearer token', 'token', () => ({})),
];

/**
 * WebDAV over TLS on the real Apache, with one of the three credentials grid users have. The
 * PFNs are davs:// under a prefix whose collections do not exist yet (mod_dav answers 409 until
 * the store creates them with MKCOL).
 */
function davsBackend(credential: string, area: 'dav' | 'token', material: (info: DavsServer['info']) => { cert?: Buffer; key?: Buffer }): Backend {
  const slug = credential.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  return {
    name: `davs (Apache mod_dav, ${credential})`,
    store: () => {
      const tls = { ca: [readFileSync(davs.info.ca_cert, 'utf8')], ...material(davs.info) };
      const pool = new Agent({ connect: tls });
      davsPools.push(pool);
      const token = readFileSync(davs.info.token_file, 'utf8').trim();
      return new DavStore({
        scheme: 'davs',
        prefix: `/${area}/conformance/`,
        dispatcher: () => Promise.resolve(pool),
        bearer: area === 'token' ? new BearerToken('the test peer\'s token file', () => Promise.resolve(token)) : undefined,
        trust: 'the test CA',
        tls: () => Promise.resolve({ ca: tls.ca, ...(tls.cert === undefined ? {} : { cert: tls.cert.toString(), key: tls.key?.toString() ?? '' }) }),
      });
    },
    pfn: (key) => `davs://127.0.0.1:${new URL(davs.info.base_url).port}/${area}/conformance/${slug}/${key}`,
    enforcesIfAbsent: true,
  };
}

describe.each(backends)('ObjectStore conformance: $name', (backend) => {
  let store: ObjectStore;
  beforeAll(() => {
    store = backend.store();
  });
  afterAll(async () => {
    await store.close();
  });

  it('puts and gets back identical bytes, and stats their size', async () => {
    const bytes = randomBytes(32 * 1024);
    const pfn = backend.pfn('ab/cd/H-H1_GWOSC_4KHZ_R1-1126259462-1.hdf5');
    await store.put(pfn, bytes);
    expect(Buffer.from(await store.get(pfn)).equals(bytes)).toBe(true);
    expect(await store.stat(pfn)).toEqual({ bytes: bytes.byteLength });
  });

  it('round-trips an empty object and every byte value', async () => {
    const empty = backend.pfn('empty.bin');
    await store.put(empty, new Uint8Array(0));
    expect((await store.get(empty)).byteLength).toBe(0);
    expect(await store.stat(empty)).toEqual({ bytes: 0 });
    const all = new Uint8Array(256).map((_, i) => i);
    const pfn = backend.pfn('all-bytes.bin');
    await store.put(pfn, all.subarray(10, 200));
    expect(Buffer.from(await store.get(pfn)).equals(Buffer.from(all.subarray(10, 200)))).toBe(true);
  });

  it('reports a missing object as not found (get) or undefined (stat)', async () => {
    const pfn = backend.pfn('never/written.bin');
    await expect(store.get(pfn)).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(await store.stat(pfn)).toBeUndefined();
  });

  it('replaces an object on a plain put', async () => {
    const pfn = backend.pfn('replaced.bin');
    await store.put(pfn, Buffer.from('first'));
    await store.put(pfn, Buffer.from('second version'));
    expect(Buffer.from(await store.get(pfn)).toString()).toBe('second version');
  });

  it('deletes, and deleting again is not an error', async () => {
    const pfn = backend.pfn('deleted.bin');
    await store.put(pfn, Buffer.from('bye'));
    await store.delete(pfn);
    expect(await store.stat(pfn)).toBeUndefined();
    await store.delete(pfn);
  });

  it('refuses to overwrite with ifAbsent where the backend enforces it', async () => {
    const pfn = backend.pfn('exclusive.bin');
    await store.put(pfn, Buffer.from('original'), { ifAbsent: true });
    const second = store.put(pfn, Buffer.from('intruder'), { ifAbsent: true });
    if (backend.enforcesIfAbsent) {
      await expect(second).rejects.toBeInstanceOf(ObjectExistsError);
      expect(Buffer.from(await store.get(pfn)).toString()).toBe('original');
    } else {
      await second;
    }
  });

  it('stores bytes sent with their md5 (S3 stores send it as Content-MD5; the lake checks it: rucio-lake tests)', async () => {
    const bytes = randomBytes(4096);
    const pfn = backend.pfn('digest.bin');
    await store.put(pfn, bytes, { md5: createHash('md5').update(bytes).digest('hex') });
    expect(Buffer.from(await store.get(pfn)).equals(bytes)).toBe(true);
  });

  it('handles 16 concurrent writes and reads', async () => {
    const items = Array.from({ length: 16 }, (_, i) => ({ pfn: backend.pfn(`parallel/${i}.bin`), bytes: randomBytes(1000 + i) }));
    await Promise.all(items.map((item) => store.put(item.pfn, item.bytes)));
    const read = await Promise.all(items.map((item) => store.get(item.pfn)));
    read.forEach((bytes, i) => expect(Buffer.from(bytes).equals(items[i]!.bytes)).toBe(true));
  });
});

describe('storage error contract', () => {
  it('classifies an unreachable S3 endpoint as transient', async () => {
    const store = new S3Store({
      endpoint: 'http://127.0.0.1:1',
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      forcePathStyle: true,
      checksums: 'WHEN_REQUIRED',
      maxAttempts: 1,
    });
    await expect(store.put('s3://127.0.0.1:1/b/k', Buffer.from('x'))).rejects.toBeInstanceOf(StorageTransientError);
    await store.close();
  });

  it('classifies wrong S3 credentials as a permanent error that names the fix', async () => {
    const store = new S3Store({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'WRONG', secretAccessKey: 'WRONG' },
      forcePathStyle: true,
      checksums: 'WHEN_REQUIRED',
    });
    const error = await store.put(`s3://127.0.0.1:${s3.port}/${bucket}/denied`, Buffer.from('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toMatch(/check the S3 credentials/);
    await store.close();
  });

  it('direct engine: unreachable endpoint is transient, wrong credentials and missing bucket are permanent', async () => {
    const down = new S3DirectStore({ endpoint: 'http://127.0.0.1:1', region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, forcePathStyle: true, dispatcher: agent, maxAttempts: 1 });
    await expect(down.put('s3://127.0.0.1:1/b/k', Buffer.from('x'))).rejects.toBeInstanceOf(StorageTransientError);
    const wrong = new S3DirectStore({ endpoint: s3.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'WRONG', secretAccessKey: 'WRONG' }, forcePathStyle: true, dispatcher: agent });
    const denied = await wrong.put(`s3://127.0.0.1:${s3.port}/${bucket}/denied`, Buffer.from('x')).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(StorageError);
    expect((denied as Error).message).toMatch(/HTTP 403 .*check the S3 credentials/);
    const right = new S3DirectStore({ endpoint: s3.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, forcePathStyle: true, dispatcher: agent });
    await expect(right.put(`s3://127.0.0.1:${s3.port}/no-such-bucket/k`, Buffer.from('x'))).rejects.toThrow(/the bucket does not exist/);
  });

  it('rejects a PFN without a bucket and key', () => {
    expect(() => S3Store.locate('s3://h:1/onlybucket')).toThrow(/expected s3:\/\/host:port\/<bucket>\/<key>/);
  });

  it('pins the s3rver trap: the SDK default checksum mode stores aws-chunked framing for a streamed body', async () => {
    const naive = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const bytes = randomBytes(4096);
    await naive.send(new PutObjectCommand({ Bucket: bucket, Key: 'trap/streamed', Body: Readable.from([bytes]), ContentLength: bytes.byteLength }));
    const stored = await (await naive.send(new GetObjectCommand({ Bucket: bucket, Key: 'trap/streamed' }))).Body!.transformToByteArray();
    naive.destroy();
    expect(Buffer.from(stored).equals(bytes)).toBe(false);
    // Our store's settings (WHEN_REQUIRED, Buffer body) keep the bytes intact.
    const store = backends[0]!.store();
    const pfn = `s3://127.0.0.1:${s3.port}/${bucket}/trap/ours`;
    await store.put(pfn, bytes);
    expect(Buffer.from(await store.get(pfn)).equals(bytes)).toBe(true);
    await store.close();
  });
});
