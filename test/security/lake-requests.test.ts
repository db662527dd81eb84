import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lakeIsUp, listTree, rawRequest, signedS3, startSandboxLake, type SandboxLake } from './helpers.js';

let box: SandboxLake;
beforeAll(async () => {
  box = await startSandboxLake({ tokenLifetimeMs: 1500, storageLimits: { maxObjectBytes: 64 * 1024 } });
});
afterAll(async () => {
  await box.dispose();
});

const bucket = '/wavefier-lake/';
const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function nothingWritten(attack: () => Promise<void>): Promise<void> {
  const before = await listTree(box.sandbox);
  await attack();
  expect(await listTree(box.sandbox)).toEqual(before);
}

/** A DID the attack tried to create must not exist (checked with a valid token). */
async function didExists(name: string): Promise<boolean> {
  const response = await box.lake.rucio(`/dids/wavefier/${name}`, { token: await box.lake.token() });
  return response.status === 200;
}

describe('lake S3: unsigned, wrongly signed, replayed and expired requests are refused (issue 15)', () => {
  it('refuses an unsigned PUT with 403 AccessDenied and stores nothing', async () => {
    await nothingWritten(async () => {
      const response = await rawRequest(box.lake.settings.s3.endpoint, 'PUT', `${bucket}unsigned`, { 'content-length': '3' }, 'abc');
      expect(response.status).toBe(403);
      expect(response.body).toContain('<Code>AccessDenied</Code>');
    });
  });

  it('refuses a PUT signed with a wrong secret with 403 SignatureDoesNotMatch and stores nothing', async () => {
    await nothingWritten(async () => {
      const response = await signedS3(box.lake, 'PUT', `${bucket}forged`, { body: 'abc', secretAccessKey: 'not-the-secret' });
      expect(response.status).toBe(403);
      expect(response.body).toContain('<Code>SignatureDoesNotMatch</Code>');
    });
  });

  it('refuses a header-signed request replayed 20 minutes later (or dated ahead) with 403 RequestTimeTooSkewed', async () => {
    await nothingWritten(async () => {
      for (const offset of [-20, 20]) {
        const response = await signedS3(box.lake, 'PUT', `${bucket}replayed`, { body: 'abc', signingDate: new Date(Date.now() + offset * 60_000) });
        expect(response.status).toBe(403);
        expect(response.body).toContain('<Code>RequestTimeTooSkewed</Code>');
      }
    });
  });

  it('refuses an expired presigned URL, one used for another method or key, and one valid for more than 7 days', async () => {
    await nothingWritten(async () => {
      const expired = await signedS3(box.lake, 'PUT', `${bucket}expired`, { body: 'abc', presignSeconds: 60, signingDate: new Date(Date.now() - 3_600_000) });
      expect(expired.status).toBe(403);
      expect(expired.body).toContain('Request has expired');
      const notYet = await signedS3(box.lake, 'PUT', `${bucket}future`, { body: 'abc', presignSeconds: 60, signingDate: new Date(Date.now() + 3_600_000) });
      expect(notYet.status).toBe(403);
      // The SDK will not presign for more than 7 days; the lake must not honour such a URL either.
      const week = new URL(await (await box.lake.rucio(`/credentials/signurl?rse=LAKE_S3&op=write&url=${encodeURIComponent('s3://127.0.0.1/wavefier-lake/long-lived')}&lifetime=600`)).text());
      week.searchParams.set('X-Amz-Expires', '604801');
      const tooLong = await rawRequest(box.lake.settings.s3.endpoint, 'PUT', `${week.pathname}${week.search}`, { 'content-length': '3' }, 'abc');
      expect(tooLong.status).toBe(400);
      expect(tooLong.body).toContain('<Code>AuthorizationQueryParametersError</Code>');
    });
    // A URL presigned for GET of one key, replayed as a PUT and against another key.
    const url = new URL(await (await box.lake.rucio(`/credentials/signurl?rse=LAKE_S3&op=read&url=${encodeURIComponent(`s3://127.0.0.1/wavefier-lake/readable`)}&lifetime=600`)).text());
    await nothingWritten(async () => {
      const asPut = await rawRequest(box.lake.settings.s3.endpoint, 'PUT', `${url.pathname}${url.search}`, { 'content-length': '3' }, 'abc');
      expect(asPut.status).toBe(403);
      const otherKey = await rawRequest(box.lake.settings.s3.endpoint, 'PUT', `${bucket}other${url.search}`, { 'content-length': '3' }, 'abc');
      expect(otherKey.status).toBe(403);
    });
  });

  it('answers a query that is not valid percent-encoding (it once crashed the lake) and stays up', async () => {
    const response = await signedS3(box.lake, 'GET', `${bucket}x`, { query: { ok: '1' } });
    expect(response.status).toBe(404);
    const broken = await rawRequest(box.lake.settings.s3.endpoint, 'GET', `${bucket}x?a=%ZZ`, {
      authorization: `AWS4-HMAC-SHA256 Credential=${box.lake.settings.s3.accessKeyId}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00`,
      'x-amz-date': new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, ''),
    });
    expect(broken.status).toBe(403);
    expect(await lakeIsUp(box.lake)).toBe(true);
  });
});

describe('lake S3: oversized and deeply nested inputs get a 400 and the lake stays up (issue 15)', () => {
  it('refuses a declared body over the object limit before reading it (400 EntityTooLarge)', async () => {
    await nothingWritten(async () => {
      const response = await signedS3(box.lake, 'PUT', `${bucket}big-declared`, { headers: { 'content-length': String(10 * 1024 * 1024 * 1024) } });
      expect(response.status).toBe(400);
      expect(response.body).toContain('<Code>EntityTooLarge</Code>');
    });
    expect(await lakeIsUp(box.lake)).toBe(true);
  });

  it('stops reading a chunked body once it passes the limit (400 EntityTooLarge), storing nothing', async () => {
    await nothingWritten(async () => {
      const url = new URL(box.lake.settings.s3.endpoint);
      const signed = await signedS3Headers(`${bucket}big-chunked`);
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: `${bucket}big-chunked`, headers: { ...signed, 'transfer-encoding': 'chunked' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve(-1));
        const piece = randomBytes(16 * 1024);
        let sent = 0;
        const pump = (): void => {
          while (sent < 1024 && req.write(piece)) sent++;
          if (sent < 1024) req.once('drain', pump);
          else req.end();
        };
        pump();
        setTimeout(() => reject(new Error('no answer')), 20_000).unref();
      });
      expect(status).toBe(400);
    });
    expect(await lakeIsUp(box.lake)).toBe(true);
  });

  it('refuses an XML document nested deeper than any S3 document (MalformedXML) instead of overflowing the stack', async () => {
    const depth = 20_000;
    const xml = `<?xml version="1.0" encoding="UTF-8"?><Delete>${'<Object>'.repeat(depth)}${'</Object>'.repeat(depth)}</Delete>`;
    const response = await signedS3(box.lake, 'POST', '/wavefier-lake', { query: { delete: '' }, body: xml });
    expect(response.status).toBe(400);
    expect(response.body).toContain('<Code>MalformedXML</Code>');
    expect(await lakeIsUp(box.lake)).toBe(true);
  });

  it('refuses a body of undeclared length that would go to s3rver (411), and an XML document over 1 MiB (400)', async () => {
    const url = new URL(box.lake.settings.s3.endpoint);
    const headers = await signedS3Headers('/wavefier-lake', 'POST', { delete: '' });
    const undeclared = await new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, method: 'POST', path: '/wavefier-lake?delete=', headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('<Delete><Object><Key>k</Key></Object></Delete>');
    });
    expect(undeclared).toBe(411);
    const big = `<Delete>${'<Object><Key>k</Key></Object>'.repeat(40_000)}</Delete>`;
    const tooBig = await signedS3(box.lake, 'POST', '/wavefier-lake', { query: { delete: '' }, body: big });
    expect(tooBig.status).toBe(400);
    expect(tooBig.body).toContain('<Code>MaxMessageLengthExceeded</Code>');
    expect(await lakeIsUp(box.lake)).toBe(true);
  });
});

describe('lake REST API: authentication and input limits (issue 15)', () => {
  it('refuses a write without a token, with a wrong one and with an expired one (401), creating nothing', async () => {
    const name = `never-${randomBytes(4).toString('hex')}`;
    const body = JSON.stringify({ type: 'DATASET' });
    const expired = await box.lake.token();
    await wait(1600);
    for (const token of [null, 'root-wavefier-unknown-00000000000000000000000000000000', expired]) {
      const response = await box.lake.rucio(`/dids/wavefier/${name}`, { method: 'POST', body, token });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { ExceptionClass: string }).ExceptionClass).toBe('CannotAuthenticate');
    }
    expect(await didExists(name)).toBe(false);
    const admin = await fetch(`${box.lake.settings.rucioHost}/.lake/faults`, { headers: { 'X-Lake-Admin-Token': 'wrong' } });
    expect(admin.status).toBe(401);
  });

  it('refuses deeply nested filters= with 400 (once a 500 "Maximum call stack size exceeded")', async () => {
    // Brackets left unescaped: the query stays under Node's 16 KB header limit.
    const filters = `[{"name":${'['.repeat(6000)}${']'.repeat(6000)}}]`;
    const response = await box.lake.rucio(`/dids/wavefier/dids/search?type=all&filters=${filters}`, { token: await box.lake.token() });
    expect(response.status).toBe(400);
    expect(await lakeIsUp(box.lake)).toBe(true);
  });

  it('refuses a deeply nested JSON body with 400, and a body over 64 MiB with 413 without reading it all', async () => {
    // Tokens of this lake live 1.5 s: a fresh one for each request.
    const deep = await box.lake.rucio('/replicas/list', { method: 'POST', body: `${'['.repeat(100_000)}${']'.repeat(100_000)}`, token: await box.lake.token() });
    expect(deep.status).toBe(400);
    const huge = await box.lake.rucio('/replicas/list', { method: 'POST', body: Buffer.alloc(65 * 1024 * 1024, 0x20), token: await box.lake.token() });
    expect(huge.status).toBe(413);
    expect(await lakeIsUp(box.lake)).toBe(true);
  });
});

/** Headers of a header-signed request (UNSIGNED-PAYLOAD), for a body sent by hand. */
async function signedS3Headers(path: string, method = 'PUT', query: Record<string, string> = {}): Promise<Record<string, string>> {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { createHash, createHmac } = await import('node:crypto');
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
  const url = new URL(box.lake.settings.s3.endpoint);
  const signer = new SignatureV4({
    credentials: { accessKeyId: box.lake.settings.s3.accessKeyId, secretAccessKey: box.lake.settings.s3.secretAccessKey },
    region: box.lake.settings.s3.region,
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signed = await signer.sign({ method, protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path, query, headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) if (name !== 'host') headers[name] = value;
  return headers;
}
