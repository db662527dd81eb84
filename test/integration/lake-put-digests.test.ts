import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definedProps } from '../../src/common/defined.js';
import { lfn2path } from '../../src/rucio/index.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';

/** node:crypto behind the hash interface of the SDK's own SigV4 signer (an HMAC when given a key). */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as Uint8Array));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : Buffer.from(data as Uint8Array));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

let lake: TestLake;
let signer: SignatureV4;
beforeAll(async () => {
  lake = await startTestLake();
  signer = new SignatureV4({
    credentials: { accessKeyId: lake.settings.s3.accessKeyId, secretAccessKey: lake.settings.s3.secretAccessKey },
    region: lake.settings.s3.region,
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
});
afterAll(async () => {
  await lake.dispose();
});

const md5Base64 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('base64');
const md5Hex = (bytes: Buffer): string => createHash('md5').update(bytes).digest('hex');
const sha256Hex = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** A request signed as a client that sends `headers` (x-amz-content-sha256 included) would sign it. */
async function signed(method: 'PUT' | 'GET', key: string, headers: Record<string, string>, body?: Buffer): Promise<Response> {
  const url = new URL(lake.settings.s3.endpoint);
  const path = `/wavefier-lake/${key}`;
  const request = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query: {},
    headers: { host: url.host, ...(body === undefined ? {} : { 'content-length': String(body.length) }), ...headers },
    ...definedProps({ body }),
  });
  const sent = new Headers();
  for (const [name, value] of Object.entries(request.headers)) if (name !== 'host' && name !== 'content-length') sent.set(name, value);
  return fetch(`${lake.settings.s3.endpoint}${path}`, { method, headers: sent, ...definedProps({ body }) });
}

const get = (key: string): Promise<Response> => signed('GET', key, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });

describe('lake storage: Content-MD5 and the payload hash of a PUT', () => {
  it('stores a PUT with UNSIGNED-PAYLOAD and a matching Content-MD5', async () => {
    const key = lfn2path('wavefier', 'digest-good.hdf5');
    const bytes = Buffer.from(Array.from({ length: 45_000 }, (_, i) => (i * 13) % 256));
    const put = await signed('PUT', key, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-md5': md5Base64(bytes) }, bytes);
    expect(put.status).toBe(200);
    expect(put.headers.get('etag')).toBe(`"${md5Hex(bytes)}"`);
    const back = await get(key);
    expect(back.status).toBe(200);
    expect(Buffer.from(await back.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('refuses a Content-MD5 that does not match the body with 400 BadDigest and stores nothing', async () => {
    const key = lfn2path('wavefier', 'digest-bad.hdf5');
    const bytes = Buffer.from('the bytes that arrive');
    const claimed = md5Base64(Buffer.from('the bytes that were meant'));
    const put = await signed('PUT', key, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-md5': claimed }, bytes);
    expect(put.status).toBe(400);
    expect(put.headers.get('content-type')).toBe('application/xml');
    const xml = await put.text();
    expect(xml).toContain('<Code>BadDigest</Code>');
    expect(xml).toContain(`<ExpectedDigest>${claimed}</ExpectedDigest>`);
    expect(xml).toContain(`<CalculatedDigest>${md5Base64(bytes)}</CalculatedDigest>`);
    const back = await get(key);
    expect(back.status).toBe(404);
    expect(await back.text()).toContain('<Code>NoSuchKey</Code>');
  });

  it('keeps the stored version when a replacement has a bad Content-MD5', async () => {
    const key = lfn2path('wavefier', 'digest-keep.hdf5');
    const first = Buffer.from('first version');
    expect((await signed('PUT', key, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-md5': md5Base64(first) }, first)).status).toBe(200);
    const second = Buffer.from('second version');
    expect((await signed('PUT', key, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-md5': md5Base64(first) }, second)).status).toBe(400);
    expect(Buffer.from(await (await get(key)).arrayBuffer()).equals(first)).toBe(true);
  });

  it('refuses a malformed Content-MD5 with 400 InvalidDigest', async () => {
    const key = lfn2path('wavefier', 'digest-invalid.hdf5');
    const put = await signed('PUT', key, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-md5': md5Hex(Buffer.from('hex is not base64')) }, Buffer.from('x'));
    expect(put.status).toBe(400);
    expect(await put.text()).toContain('<Code>InvalidDigest</Code>');
    expect((await get(key)).status).toBe(404);
  });

  it('checks a signed payload hash against the body: a mismatch is 400 XAmzContentSHA256Mismatch, nothing stored', async () => {
    const key = lfn2path('wavefier', 'digest-sha.hdf5');
    const bytes = Buffer.from('signed payload');
    const good = await signed('PUT', key, { 'x-amz-content-sha256': sha256Hex(bytes), 'content-md5': md5Base64(bytes) }, bytes);
    expect(good.status).toBe(200);
    const other = Buffer.from('another payload');
    const bad = await signed('PUT', key, { 'x-amz-content-sha256': sha256Hex(bytes) }, other);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
    expect(Buffer.from(await (await get(key)).arrayBuffer()).equals(bytes)).toBe(true);
  });
});
