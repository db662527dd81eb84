import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * AWS Signature Version 4 for S3, as the lake's storage checks it (s3rver 3 only checks the access
 * key, so a client that signs wrongly would pass here and fail on real S3 or MinIO). Header-signed
 * requests and presigned URLs; the canonical URI is the path exactly as sent (S3 does not
 * normalise or double-encode it).
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

const encode = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const hmac = (key: Buffer | string, text: string): Buffer => createHmac('sha256', key).update(text).digest();

/**
 * Signing keys by secret, date, region and service: the key changes once a day, and deriving it
 * is four HMACs per request. Few entries (one secret, a date or two), so a small bound suffices.
 */
const signingKeys = new Map<string, Buffer>();

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${date}\n${region}\n${service}\n${secret}`;
  let key = signingKeys.get(id);
  if (key === undefined) {
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
    if (signingKeys.size >= 64) signingKeys.clear();
    signingKeys.set(id, key);
  }
  return key;
}

/** A query that is not valid percent-encoding has no canonical form: nothing signed it. */
class MalformedQuery extends Error {}

function decodeQueryPart(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new MalformedQuery();
  }
}

function canonicalQuery(rawQuery: string, exclude: string | undefined): string {
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decodeQueryPart(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decodeQueryPart(part.slice(eq + 1));
    if (key === exclude) continue;
    pairs.push([encode(key), encode(value)]);
  }
  pairs.sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0));
  return pairs.map(([key, value]) => `${key}=${value}`).join('&');
}

function canonicalHeaders(headers: IncomingHttpHeaders, signed: string[]): string {
  return signed
    .map((name) => {
      const raw = headers[name];
      const value = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
      return `${name}:${value.trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
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
  const request = [
    input.method,
    input.path,
    canonicalQuery(input.rawQuery, input.excludeQuery),
    canonicalHeaders(input.headers, input.signedHeaders),
    input.signedHeaders.join(';'),
    input.payloadHash,
  ].join('\n');
  const date = input.amzDate.slice(0, 8);
  const scope = `${date}/${input.region}/${input.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', input.amzDate, scope, sha256(request)].join('\n');
  return createHmac('sha256', signingKey(secretAccessKey, date, input.region, input.service)).update(toSign).digest('hex');
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
    if (error instanceof MalformedQuery) return mismatch;
    throw error;
  }
}

function check(
  method: string,
  rawUrl: string,
  headers: IncomingHttpHeaders,
  credentials: SigV4Credentials,
  now = Date.now(),
): SigV4Verdict | undefined {
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
  const amzDate = (input.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const path = `/${encode(input.bucket)}/${input.key.split('/').map(encode).join('/')}`;
  const query = [
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD'],
    ['X-Amz-Credential', `${input.accessKeyId}/${date}/${input.region}/s3/aws4_request`],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', String(input.expiresSeconds)],
    ['X-Amz-SignedHeaders', 'host'],
  ]
    .map(([name = '', value = '']) => `${encode(name)}=${encode(value)}`)
    .join('&');
  const signed = signature(
    { method: input.method, path, rawQuery: query, headers: { host: url.host }, signedHeaders: ['host'], payloadHash: 'UNSIGNED-PAYLOAD', amzDate, region: input.region, service: 's3' },
    input.secretAccessKey,
  );
  return `${url.origin}${path}?${query}&X-Amz-Signature=${signed}`;
}
