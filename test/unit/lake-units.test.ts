import { describe, expect, it } from 'vitest';
import { FaultController, flipBytes, parsePythonLiteral, parseRucioDate, resolveRseExpression, rfc1123 } from '../../src/lake/index.js';
import { RucioApiError } from '../../src/lake/rucio-error.js';
import { signature, verifySigV4 } from '../../src/lake/sigv4.js';
import { lfn2path } from '../../src/rucio/index.js';

describe('lfn2pfn', () => {
  it('computes the hash path exactly as Rucio (transcript examples)', () => {
    expect(lfn2path('user.root', 'file1.txt')).toBe('user/root/41/04/file1.txt');
    expect(lfn2path('user.root', 'single.txt')).toBe('user/root/db/78/single.txt');
    expect(lfn2path('user.root', 'file2.txt')).toBe('user/root/78/f7/file2.txt');
    expect(lfn2path('user.root', 'file3.bin')).toBe('user/root/c1/c9/file3.bin');
  });

  it('keeps dots in scopes that do not start with user or group', () => {
    expect(lfn2path('wavefier.test', 'a')).toMatch(/^wavefier\.test\/[0-9a-f]{2}\/[0-9a-f]{2}\/a$/);
    expect(lfn2path('group.phys', 'a')).toMatch(/^group\/phys\//);
    expect(lfn2path('user.jdoe', 'x/y', 'identity')).toBe('user/jdoe/x/y');
  });
});

describe('RSE expressions', () => {
  const rses = [
    { name: 'LAKE_S3', attributes: { LAKE_S3: true, lfn2pfn_algorithm: 'hash' } },
    { name: 'LAKE_POSIX', attributes: { LAKE_POSIX: true, lfn2pfn_algorithm: 'hash', istape: false } },
    { name: 'LAKE_SIGNED', attributes: { LAKE_SIGNED: true, sign_url: 's3' } },
  ];
  const names = (expression: string): string[] => resolveRseExpression(expression, rses).map((rse) => rse.name);

  it('supports names, *, key=value, |, &, \\ and parentheses', () => {
    expect(names('LAKE_S3')).toEqual(['LAKE_S3']);
    expect(names('*')).toHaveLength(3);
    expect(names('LAKE_S3|LAKE_POSIX')).toEqual(['LAKE_S3', 'LAKE_POSIX']);
    expect(names('lfn2pfn_algorithm=hash&LAKE_POSIX')).toEqual(['LAKE_POSIX']);
    expect(names('*\\LAKE_SIGNED')).toEqual(['LAKE_S3', 'LAKE_POSIX']);
    expect(names('(LAKE_S3|LAKE_SIGNED)&sign_url=s3')).toEqual(['LAKE_SIGNED']);
    expect(names('istape=false')).toEqual(['LAKE_POSIX']);
  });

  it('throws InvalidRSEExpression for empty results and bad syntax', () => {
    const fails = (expression: string, message: RegExp): void => {
      try {
        resolveRseExpression(expression, rses);
        expect.unreachable(`'${expression}' should fail`);
      } catch (error) {
        expect(error).toBeInstanceOf(RucioApiError);
        expect((error as RucioApiError).exceptionClass).toBe('InvalidRSEExpression');
        expect((error as RucioApiError).message).toMatch(message);
      }
    };
    fails('istape=true', /empty set/);
    fails('NOPE', /empty set/);
    fails('', /not a valid/);
    fails('LAKE_S3|', /not a valid/);
    fails('(LAKE_S3', /not a valid/);
    fails('LAKE$', /not a valid/);
  });
});

describe('Python literals of list_dids filters', () => {
  it('parses what the Python client sends', () => {
    expect(parsePythonLiteral("[{'name': 'ds1'}]")).toEqual([{ name: 'ds1' }]);
    expect(parsePythonLiteral("[{'name': 'V-*', 'created_after': '2021-06-01T00:00:00', 'length.gt': 3,}]")).toEqual([
      { name: 'V-*', 'created_after': '2021-06-01T00:00:00', 'length.gt': 3 },
    ]);
    expect(parsePythonLiteral("{'a': True, 'b': None, 'c': False, 'd': \"it's\"}")).toEqual({ a: true, b: null, c: false, d: "it's" });
  });

  it('rejects anything that is not a literal', () => {
    expect(() => parsePythonLiteral("[{'name': __import__('os')}]")).toThrow();
    expect(() => parsePythonLiteral("[{'name': 'unterminated}]")).toThrow();
  });
});

describe('Rucio dates', () => {
  it('formats RFC 1123 with a literal UTC', () => {
    expect(rfc1123(Date.UTC(2026, 10, 26, 16, 6, 11))).toBe('Thu, 26 Nov 2026 16:06:11 UTC');
  });

  it('parses the forms updated_after and created_after accept', () => {
    const t = Date.UTC(2026, 10, 26, 15, 6, 7);
    expect(parseRucioDate('2026-11-26T15:06:07')).toBe(t);
    expect(parseRucioDate('2026-11-26 15:06:07')).toBe(t);
    expect(parseRucioDate('2026-11-26T15:06:07.250000')).toBe(t + 250);
    expect(parseRucioDate('2026-11-26T15:06:07.25Z')).toBe(t + 250);
    expect(parseRucioDate('Thu, 26 Nov 2026 15:06:07 UTC')).toBe(t);
    expect(parseRucioDate(t / 1000)).toBe(t);
    expect(parseRucioDate(String(t / 1000))).toBe(t);
    expect(parseRucioDate('yesterday')).toBeUndefined();
    expect(parseRucioDate('2026-13-45T00:00:00')).toBeUndefined();
  });
});

describe('FaultController', () => {
  it('fires bursts exactly N times, rates by probability, first matching rule wins', () => {
    let next = 0.5;
    const faults = new FaultController(() => next);
    faults.set({ catalog: [{ path: '^/a', errorBurst: 2, status: 502 }, { path: '^/b', errorRate: 0.4 }] });
    expect(faults.catalogDecision('GET', '/a').errorStatus).toBe(502);
    expect(faults.catalogDecision('GET', '/a').errorStatus).toBe(502);
    expect(faults.catalogDecision('GET', '/a').errorStatus).toBeUndefined();
    expect(faults.catalogDecision('GET', '/b').errorStatus).toBeUndefined();
    next = 0.1;
    expect(faults.catalogDecision('GET', '/b').errorStatus).toBe(503);
    expect(faults.counters().catalog.errors).toBe(3);
    faults.clear();
    expect(faults.catalogDecision('GET', '/a')).toEqual({ latencyMs: 0, errorStatus: undefined, drop: false });
  });

  it('corrupts by key pattern and method, and rejects invalid specs', () => {
    const faults = new FaultController(() => 0);
    faults.set({ storage: [{ key: 'victim', method: 'GET', corruptReadRate: 1 }] });
    expect(faults.corrupt('read', 'b/victim-1')).toBe(true);
    expect(faults.corrupt('read', 'b/other')).toBe(false);
    expect(faults.corrupt('write', 'b/victim-1')).toBe(false);
    expect(faults.storageDecision('GET', 'b/victim-1').errorStatus).toBeUndefined();
    expect(() => faults.set({ catalog: [{ errorRate: 1.5 }] })).toThrow();
    expect(() => faults.set({ catalog: [{ path: '(' }] })).toThrow();
    expect(() => faults.set({ catalog: [{ status: 404 as 500 }] })).toThrow();
  });

  it('flips bytes without changing the length', () => {
    const bytes = Buffer.from('abcdef');
    const flipped = flipBytes(bytes);
    expect(flipped.length).toBe(bytes.length);
    expect(flipped.equals(bytes)).toBe(false);
    expect(bytes.toString()).toBe('abcdef');
  });
});

describe('SigV4 verification', () => {
  const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const headers = {
    host: 'examplebucket.s3.amazonaws.com',
    range: 'bytes=0-9',
    'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'x-amz-date': '20130524T000000Z',
  };

  it('reproduces the AWS documentation example (GET Object)', () => {
    expect(
      signature(
        { method: 'GET', path: '/test.txt', rawQuery: '', headers, signedHeaders: ['host', 'range', 'x-amz-content-sha256', 'x-amz-date'], payloadHash: headers['x-amz-content-sha256'], amzDate: '20130524T000000Z', region: 'us-east-1', service: 's3' },
        credentials.secretAccessKey,
      ),
    ).toBe('f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  });

  it('accepts that request and rejects it when anything changes', () => {
    const authorization =
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41';
    // The request is dated 2013-05-24T00:00:00Z; S3 accepts it within 15 minutes of that.
    const signedAt = Date.UTC(2013, 4, 24);
    expect(verifySigV4('GET', '/test.txt', { ...headers, authorization }, credentials, signedAt + 60_000)).toEqual({ ok: true });
    expect(verifySigV4('GET', '/test2.txt', { ...headers, authorization }, credentials, signedAt)).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    expect(verifySigV4('GET', '/test.txt', { ...headers, range: 'bytes=0-10', authorization }, credentials, signedAt)).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    expect(verifySigV4('GET', '/test.txt', { ...headers, authorization }, { ...credentials, accessKeyId: 'OTHER' }, signedAt)).toMatchObject({ ok: false, code: 'InvalidAccessKeyId' });
    expect(verifySigV4('GET', '/test.txt', headers, credentials, signedAt)).toBeUndefined();
    // Replayed later (or sent with a clock far ahead): refused although the signature is right.
    expect(verifySigV4('GET', '/test.txt', { ...headers, authorization }, credentials, signedAt + 16 * 60_000)).toMatchObject({ ok: false, code: 'RequestTimeTooSkewed' });
    expect(verifySigV4('GET', '/test.txt', { ...headers, authorization }, credentials, signedAt - 16 * 60_000)).toMatchObject({ ok: false, code: 'RequestTimeTooSkewed' });
  });
});
