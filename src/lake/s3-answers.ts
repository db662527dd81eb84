import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/** The headers s3rver keeps with an object (models/object.js ALLOWED_METADATA + x-amz-meta-*). */
const allowedMetadata = new Set([
  'cache-control', 'content-disposition', 'content-encoding', 'content-language', 'content-type', 'expires',
  'x-amz-storage-class', 'x-amz-website-redirect-location',
]);

/** The entries s3rver would keep of a request's headers or a stored metadata record. */
export function keptMetadata(metadata: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) {
    if (typeof value === 'string' && (allowedMetadata.has(name) || name.startsWith('x-amz-meta-'))) out[name] = value;
  }
  return out;
}

/** The kept metadata as response headers, in S3's capitalisation. */
export function storedHeaders(metadata: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(keptMetadata(metadata))) {
    out[name.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase())] = value;
  }
  return out;
}

export const s3ErrorCodes: Record<number, string> = { 500: 'InternalError', 502: 'BadGateway', 503: 'SlowDown', 504: 'GatewayTimeout' };

const xmlEntities: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };
/** Text for an XML element; control characters (which XML 1.0 cannot carry) become U+FFFD. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const xmlText = (text: string): string => text.replace(/[<>&"']/g, (ch) => xmlEntities[ch] ?? '').replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '\ufffd');

/**
 * S3's XML error; `details` are extra elements S3 adds for some codes (e.g. the digests of a
 * BadDigest). `resource` is what the client asked for, never a path of the server.
 */
export function sendS3Error(res: ServerResponse, status: number, code: string, message: string, resource: string, details: Record<string, string> = {}): void {
  const extra = Object.entries(details).map(([name, value]) => `<${name}>${xmlText(value)}</${name}>`).join('');
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlText(message)}</Message>${extra}` +
    `<Resource>${xmlText(resource)}</Resource><RequestId>${randomBytes(8).toString('hex')}</RequestId></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': String(Buffer.byteLength(body)) });
  res.end(body);
}

export const internalErrorMessage = 'We encountered an internal error. Please try again.';
