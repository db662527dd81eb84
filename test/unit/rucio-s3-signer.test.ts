import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { S3RequestSigner } from '../../src/rucio/s3-signer.js';

/** node:crypto behind the hash interface the SDK's signer expects (as S3DirectStore used it). */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(ArrayBuffer.isView(secret) ? new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength) : new Uint8Array(secret)));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('S3RequestSigner: the same SigV4 signature as the AWS SDK signer', () => {
  const cases: { name: string; credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }; region: string; method: string; path: string; headers: Record<string, string>; date: Date }[] = [
    {
      name: 'a PUT with Content-MD5 and If-None-Match',
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
      region: 'us-east-1',
      method: 'PUT',
      path: '/wavefier-lake/wavefier/3e/1a/H-H1_WAVEFIER-1400000000-1.hdf5',
      headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': sha256('bytes'), 'content-length': '5', 'content-md5': 'rL0Y20zC+Fzt72VPzMSk2A==', 'if-none-match': '*' },
      date: new Date('2026-12-07T03:18:37.123Z'),
    },
    {
      name: 'a GET of an encoded key, a session token, another region, a day later',
      credentials: { accessKeyId: 'AKIA2', secretAccessKey: 'secret+/=', sessionToken: 'token//with==' },
      region: 'eu-west-3',
      method: 'GET',
      path: '/bucket/a%20b/%C3%A9t%C3%A9/c%2Bd',
      headers: { host: 'bucket.s3.example.org', 'x-amz-content-sha256': sha256('') },
      date: new Date('2026-12-08T00:00:00.999Z'),
    },
    {
      name: 'values with runs of spaces and surrounding blanks, and headers SigV4 leaves unsigned',
      credentials: { accessKeyId: 'AKIA3', secretAccessKey: 's3' },
      region: 'us-west-2',
      method: 'HEAD',
      path: '/b/k',
      headers: { host: 'localhost:1', 'x-amz-content-sha256': sha256(''), 'x-amz-meta-note': '  two   spaces\tand a tab ', 'user-agent': 'wavefier', expect: '100-continue' },
      date: new Date('2026-01-31T23:59:59.000Z'),
    },
  ];

  for (const sample of cases) {
    it(sample.name, async () => {
      const sdk = new SignatureV4({ credentials: sample.credentials, region: sample.region, service: 's3', sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
      const url = new URL(`http://${sample.headers.host}`);
      const expected = await sdk.sign(
        { method: sample.method, protocol: 'http:', hostname: url.hostname, ...(url.port === '' ? {} : { port: Number(url.port) }), path: sample.path, query: {}, headers: { ...sample.headers } },
        { signingDate: sample.date },
      );
      const signer = new S3RequestSigner(sample.credentials, sample.region);
      const headers = signer.sign(sample.method, sample.path, sample.headers, sample.date);
      expect(headers.authorization).toBe(expected.headers.authorization);
      expect(headers['x-amz-date']).toBe(expected.headers['x-amz-date']);
      expect(headers['x-amz-security-token']).toBe(expected.headers['x-amz-security-token']);
      // What the caller gave goes out unchanged beside them.
      expect(headers).toMatchObject(sample.headers);
      // A second request of the same day reuses the signing key and still signs its own request.
      const again = signer.sign(sample.method, `${sample.path}2`, sample.headers, sample.date);
      const expectedAgain = await sdk.sign({ method: sample.method, protocol: 'http:', hostname: url.hostname, ...(url.port === '' ? {} : { port: Number(url.port) }), path: `${sample.path}2`, query: {}, headers: { ...sample.headers } }, { signingDate: sample.date });
      expect(again.authorization).toBe(expectedAgain.headers.authorization);
      expect(again.authorization).not.toBe(headers.authorization);
    });
  }
});
