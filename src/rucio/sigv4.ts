import { createHash, createHmac } from 'node:crypto';

/**
 * The rules of AWS Signature Version 4 for S3, in one place for both sides that use them: the
 * client that signs each chunk's PUT and GET (S3RequestSigner) and the embedded lake's S3 server
 * that checks those signatures and presigns URLs (lake/sigv4.ts). A rule fixed here is fixed for
 * both, so the lake cannot accept a signature that real S3 would refuse from the same client.
 * Pure crypto and string rules, no I/O.
 */

export const sigV4Algorithm = 'AWS4-HMAC-SHA256';

/** Header values as a request has them: Node's IncomingHttpHeaders, or a client's own record. */
export type SigV4Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface SigV4Request {
  method: string;
  /** The canonical URI: the path as sent, already percent-encoded (S3 neither normalises nor double-encodes it). */
  path: string;
  /** The canonical query string (canonicalQuery), '' for none. */
  query: string;
  headers: SigV4Headers;
  /** Lowercase header names, in the order they are signed. */
  signedHeaders: readonly string[];
  payloadHash: string;
  /** ISO 8601 basic format, e.g. `20130524T000000Z` (amzDate). */
  amzDate: string;
  region: string;
  service: string;
}

/** ISO 8601 basic format of a date, as X-Amz-Date carries it. */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]|\.\d{3}/g, '');
}

/** RFC 3986 percent-encoding, as SigV4 wants it: everything but unreserved characters, `!'()*` included. */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A query that is not valid percent-encoding has no canonical form: nothing signed it. */
export class MalformedQueryError extends Error {
  constructor() {
    super('the query string is not valid percent-encoding');
    this.name = 'MalformedQueryError';
  }
}

function decodeQueryPart(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new MalformedQueryError();
  }
}

/**
 * The canonical form of a raw query string (as sent, without `?`): each name and value decoded then
 * encoded again by uriEncode, sorted by name then value; `exclude` (a presigned URL's
 * X-Amz-Signature) left out. Throws MalformedQueryError on invalid percent-encoding.
 */
export function canonicalQuery(rawQuery: string, exclude?: string): string {
  if (rawQuery === '') return '';
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decodeQueryPart(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decodeQueryPart(part.slice(eq + 1));
    if (key === exclude) continue;
    pairs.push([uriEncode(key), uriEncode(value)]);
  }
  pairs.sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0));
  return pairs.map(([key, value]) => `${key}=${value}`).join('&');
}

/**
 * A header's canonical value: repeated headers joined by commas, blanks around trimmed, runs of
 * white space folded to one space. For the values a client sends (ASCII without \v or \f) this is
 * the AWS SDK's rule to the letter.
 */
function canonicalHeaderValue(raw: string | readonly string[] | undefined): string {
  const value = typeof raw === 'string' ? raw : raw === undefined ? '' : raw.join(',');
  return value.trim().replace(/\s+/g, ' ');
}

export function canonicalRequest(request: SigV4Request): string {
  let headers = '';
  for (const name of request.signedHeaders) headers += `${name}:${canonicalHeaderValue(request.headers[name])}\n`;
  return `${request.method}\n${request.path}\n${request.query}\n${headers}\n${request.signedHeaders.join(';')}\n${request.payloadHash}`;
}

/** `date/region/service/aws4_request`, the scope of the credential and of the signing key. */
export function credentialScope(request: Pick<SigV4Request, 'amzDate' | 'region' | 'service'>): string {
  return `${request.amzDate.slice(0, 8)}/${request.region}/${request.service}/aws4_request`;
}

export function stringToSign(request: SigV4Request): string {
  const hash = createHash('sha256').update(canonicalRequest(request), 'utf8').digest('hex');
  return `${sigV4Algorithm}\n${request.amzDate}\n${credentialScope(request)}\n${hash}`;
}

const hmac = (key: Buffer | string, text: string): Buffer => createHmac('sha256', key).update(text, 'utf8').digest();

/**
 * The signing key of a secret for one day (`YYYYMMDD`), region and service: four HMACs, the same
 * all day, so each caller keeps it rather than deriving it per request.
 */
export function deriveSigningKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service), 'aws4_request');
}

/** The hex signature of a request with the signing key of its date, region and service (deriveSigningKey). */
export function sigV4Signature(request: SigV4Request, signingKey: Buffer): string {
  return createHmac('sha256', signingKey).update(stringToSign(request), 'utf8').digest('hex');
}
