import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { amzDate as amzDateOf, canonicalQuery, deriveSigningKey, MalformedQueryError, sigV4Signature, uriEncode } from '../rucio/sigv4.js';

/**
 * AWS Signature Version 4 for S3, as the lake's storage checks it (s3rver 3 only checks the access
 * key, so a client that signs wrongly would pass here and fail on real S3 or MinIO). Header-signed
 * requests and presigned URLs, with the canonical forms of rucio/sigv4.ts, the client's own.
 */
export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export type SigV4Verdict =
  | { ok: true }
  | { ok: false; code: 'InvalidAccessKeyId' | 'SignatureDoesNotMatch' | 'AccessDenied' | 'AuthorizationQueryParametersError' | 'RequestTimeTooSkewed'; message: string };

/** S3 refuses a header-signed request dated further than this from its clock: a captured request cannot be replayed later. */
export const maxClockSkewMs = 15 * 60 * 1000;
/** S3's longest presigned URL lifetime (7 days). */
export const maxPresignedSeconds = 604_800;

/**
 * Signing keys by secret, date, region and service: the key changes once a day, and deriving it
 * is four HMACs per request. Few entries (one secret, a date or two), so a small bound suffices.
 */
const signingKeys = new Map<string, Buffer>();

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${date}\n${region}\n${service}\n${secret}`;
  let key = signingKeys.get(id);
  if (key === undefined) {
    key = deriveSigningKey(secret, date, region, service);
    if (signingKeys.size >= 64) signingKeys.clear();
    signingKeys.set(id, key);
  }
  return key;
}

export interface SignInput {
  method: string;
  /** Path as sent, percent-encoded (e.g. `/bucket/a%3Ab`). */
  path: string;
  rawQuery: string;
  headers: IncomingHttpHeaders;
  signedHeaders: string[];
  payloadHash: string;
  amzDate: string;
  region: string;
  service: string;
  excludeQuery?: string;
}

export function signature(input: SignInput, secretAccessKey: string): string {
  const { rawQuery, excludeQuery, ...request } = input;
  const signed = { ...request, query: canonicalQuery(rawQuery, excludeQuery) };
  return sigV4Signature(signed, signingKey(secretAccessKey, input.amzDate.slice(0, 8), input.region, input.service));
}

function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function amzDateMs(amzDate: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s] = match;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
}

const mismatch: SigV4Verdict = {
  ok: false,
  code: 'SignatureDoesNotMatch',
  message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
};

/**
 * Checks the SigV4 signature of a request (header or presigned); undefined when it carries none.
 * Like S3, a header-signed request is only good within 15 minutes of its X-Amz-Date, and a
 * presigned URL from its X-Amz-Date (not before, give or take the same skew) until it expires.
 */
export function verifySigV4(
  method: string,
  rawUrl: string,
  headers: IncomingHttpHeaders,
  credentials: SigV4Credentials,
  now = Date.now(),
): SigV4Verdict | undefined {
  try {
    return check(method, rawUrl, headers, credentials, now);
  } catch (error) {
    if (error instanceof MalformedQueryError) return mismatch;
    throw error;
  }
}

function check(method: string, rawUrl: string, headers: IncomingHttpHeaders, credentials: SigV4Credentials, now: number): SigV4Verdict | undefined {
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const rawQuery = q < 0 ? '' : rawUrl.slice(q + 1);
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const match = /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)\s*$/.exec(authorization);
    if (match === null) return { ok: false, code: 'AccessDenied', message: 'only AWS4-HMAC-SHA256 header signatures are accepted' };
    const [, accessKey = '', , region = '', service = '', signed = '', given = ''] = match;
    if (accessKey !== credentials.accessKeyId) return { ok: false, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' };
    const amzDate = String(headers['x-amz-date'] ?? '');
    const dated = amzDateMs(amzDate);
    if (dated === undefined) return { ok: false, code: 'AccessDenied', message: 'AWS authentication requires a valid X-Amz-Date header' };
    if (Math.abs(now - dated) > maxClockSkewMs) {
      return { ok: false, code: 'RequestTimeTooSkewed', message: 'The difference between the request time and the current time is too large.' };
    }
    const payloadHash = String(headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD');
    const expected = signature({ method, path, rawQuery, headers, signedHeaders: signed.split(';'), payloadHash, amzDate, region, service }, credentials.secretAccessKey);
    return same(expected, given) ? { ok: true } : mismatch;
  }
  if (!/(^|&)X-Amz-Signature=/.test(rawQuery)) return undefined;
  const params = new URLSearchParams(rawQuery);
  const credential = params.get('X-Amz-Credential') ?? '';
  const amzDate = params.get('X-Amz-Date') ?? '';
  const expires = Number(params.get('X-Amz-Expires'));
  const signed = params.get('X-Amz-SignedHeaders') ?? '';
  const given = params.get('X-Amz-Signature') ?? '';
  const [accessKey = '', , region = '', service = ''] = credential.split('/');
  const issued = amzDateMs(amzDate);
  if (issued === undefined || !Number.isInteger(expires) || signed === '') {
    return { ok: false, code: 'AuthorizationQueryParametersError', message: 'X-Amz-Date, X-Amz-Expires and X-Amz-SignedHeaders are required' };
  }
  if (expires < 1 || expires > maxPresignedSeconds) {
    return { ok: false, code: 'AuthorizationQueryParametersError', message: `X-Amz-Expires must be between 1 and ${maxPresignedSeconds} seconds` };
  }
  if (accessKey !== credentials.accessKeyId) return { ok: false, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' };
  if (now > issued + expires * 1000) return { ok: false, code: 'AccessDenied', message: 'Request has expired' };
  if (issued - now > maxClockSkewMs) return { ok: false, code: 'AccessDenied', message: 'Request is not valid yet' };
  const payloadHash = params.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD';
  const expected = signature(
    { method, path, rawQuery, headers, signedHeaders: signed.split(';'), payloadHash, amzDate, region, service, excludeQuery: 'X-Amz-Signature' },
    credentials.secretAccessKey,
  );
  return same(expected, given) ? { ok: true } : mismatch;
}

export interface PresignInput {
  method: 'GET' | 'PUT' | 'DELETE';
  /** The storage endpoint the URL points at, e.g. `https://127.0.0.1:9443`. */
  endpoint: string;
  bucket: string;
  key: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  expiresSeconds: number;
  now?: Date;
}

/**
 * A SigV4 presigned URL (query-string authentication, `host` the only signed header, unsigned
 * payload), as the AWS SDK's presigner writes one, computed here with the verifier's own canonical
 * forms: listing a dataset of a sign_url RSE signs every file's URL at every poll, and the SDK's
 * presigner (a client, a command and a middleware stack per URL) cost enough per listing to delay
 * a 5 Hz stream's polls.
 */
export function presignUrl(input: PresignInput): string {
  const url = new URL(input.endpoint);
  const amzDate = amzDateOf(input.now ?? new Date());
  const date = amzDate.slice(0, 8);
  const path = `/${uriEncode(input.bucket)}/${input.key.split('/').map(uriEncode).join('/')}`;
  const query = [
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD'],
    ['X-Amz-Credential', `${input.accessKeyId}/${date}/${input.region}/s3/aws4_request`],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', String(input.expiresSeconds)],
    ['X-Amz-SignedHeaders', 'host'],
  ]
    .map(([name = '', value = '']) => `${uriEncode(name)}=${uriEncode(value)}`)
    .join('&');
  const signed = signature(
    { method: input.method, path, rawQuery: query, headers: { host: url.host }, signedHeaders: ['host'], payloadHash: 'UNSIGNED-PAYLOAD', amzDate, region: input.region, service: 's3' },
    input.secretAccessKey,
  );
  return `${url.origin}${path}?${query}&X-Amz-Signature=${signed}`;
}
