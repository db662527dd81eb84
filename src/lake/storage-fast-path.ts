import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultController } from './faults.js';
import { flipBytes } from './faults.js';
import { readBody } from './http-io.js';
import { keptMetadata, sendS3Error, storedHeaders } from './s3-answers.js';
import type { S3rverStorage } from './s3rver-store.js';
import type { StorageLimits, StorageTarget } from './storage-request.js';

class BodyTooLarge extends Error {}

export interface FastPathOptions {
  accessKeyId: string;
  verifySignatures: boolean;
  limits: StorageLimits;
  faults: FaultController;
  storage: Pick<S3rverStorage, 'files' | 'storeObject'>;
  /** Answers 500 for a failure inside the fast path. */
  internalError: (res: ServerResponse, error: unknown, resource: string) => void;
}

/** Serves a request on the fast path, or answers false when s3rver should serve it. */
export type FastPath = (req: IncomingMessage, res: ServerResponse, url: URL, method: string, target: StorageTarget | undefined) => boolean;

/**
 * Plain object PUT/GET/HEAD skip s3rver's Koa stack (its per-request logging and three file
 * reads per GET cost more than the I/O) and use the same on-disk layout; everything else
 * (listings, ranges, conditional GETs, copies, streamed aws-chunked uploads, errors) is s3rver's.
 * The fast PUT checks Content-MD5 and the signed payload hash, which s3rver does not.
 */
export function createFastPath(options: FastPathOptions): FastPath {
  const { limits, faults, internalError } = options;
  const { files, storeObject } = options.storage;

  /** A plain object request: a key, and no subresource (only the SigV4 query parameters). */
  const isPlainObject = (target: StorageTarget | undefined, url: URL): target is StorageTarget => {
    if (target === undefined || target.key === '') return false;
    for (const name of url.searchParams.keys()) if (name !== 'x-id' && !name.startsWith('X-Amz-')) return false;
    return true;
  };

  /** Our own key, and an unexpired presigned URL; anything else goes to s3rver for its error answer. */
  const authorised = (req: IncomingMessage, url: URL): boolean => {
    const header = req.headers.authorization;
    if (header !== undefined) return header.includes(`Credential=${options.accessKeyId}/`);
    const credential = url.searchParams.get('X-Amz-Credential');
    const date = url.searchParams.get('X-Amz-Date');
    const expires = Number(url.searchParams.get('X-Amz-Expires'));
    if (credential === null || date === null || !credential.startsWith(`${options.accessKeyId}/`)) return false;
    const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
    if (match === null || !Number.isFinite(expires)) return false;
    const [, y, mo, d, h, mi, sec] = match;
    return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec)) + expires * 1000 >= Date.now();
  };

  const fastPut = async (req: IncomingMessage, res: ServerResponse, bucket: string, key: string): Promise<void> => {
    const resource = `${bucket}/${key}`;
    let body: Buffer;
    try {
      body = await readBody(req, limits.maxObjectBytes, () => new BodyTooLarge());
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      // The rest of the body is not read: the answer closes the connection.
      res.setHeader('Connection', 'close');
      sendS3Error(res, 400, 'EntityTooLarge', `Your proposed upload exceeds the maximum allowed object size of this storage (${limits.maxObjectBytes} bytes).`, resource);
      res.on('finish', () => req.destroy());
      return;
    }
    // A header-signed request covers the body through x-amz-content-sha256; S3 checks that it is the
    // body's (UNSIGNED-PAYLOAD: nothing to check, and nothing hashed here).
    const payloadHash = req.headers['x-amz-content-sha256'];
    if (options.verifySignatures && typeof payloadHash === 'string' && payloadHash !== 'UNSIGNED-PAYLOAD' && req.headers.authorization !== undefined) {
      const computed = createHash('sha256').update(body).digest('hex');
      if (computed !== payloadHash.toLowerCase()) {
        sendS3Error(res, 400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", resource, {
          ClientComputedContentSHA256: payloadHash,
          S3ComputedContentSHA256: computed,
        });
        return;
      }
    }
    const md5 = createHash('md5').update(body).digest();
    const contentMd5Header = req.headers['content-md5'];
    if (contentMd5Header !== undefined) {
      const contentMd5 = Array.isArray(contentMd5Header) ? contentMd5Header.join(',') : contentMd5Header;
      if (!/^[A-Za-z0-9+/]{22}==$/.test(contentMd5)) {
        sendS3Error(res, 400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.', resource, { 'Content-MD5': contentMd5 });
        return;
      }
      const calculated = md5.toString('base64');
      if (calculated !== contentMd5) {
        sendS3Error(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', resource, {
          ExpectedDigest: contentMd5,
          CalculatedDigest: calculated,
        });
        return;
      }
    }
    // Conditional create (`If-None-Match: *`), as S3 and MinIO honour it; s3rver itself ignores it.
    // The check and the write run in one synchronous step, so two such PUTs cannot both succeed.
    if (req.headers['if-none-match'] === '*' && files.exists(bucket, key)) {
      sendS3Error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', `${bucket}/${key}`);
      return;
    }
    const meta = storeObject(bucket, key, body, keptMetadata(req.headers), md5.toString('hex'));
    res.writeHead(200, { ETag: `"${meta.md5}"`, 'Content-Length': '0' });
    res.end();
  };

  /** Serves a plain GET/HEAD; false when s3rver should answer (no such object, metadata unknown). */
  const fastGet = (req: IncomingMessage, res: ServerResponse, bucket: string, key: string): boolean => {
    const head = req.method === 'HEAD';
    const found = files.read(bucket, key, head, (json) => storedHeaders(JSON.parse(json) as Record<string, unknown>));
    if (found === undefined) return false;
    const { meta } = found;
    let bytes = found.bytes;
    if (!head && faults.corrupt('read', `${bucket}/${key}`)) bytes = flipBytes(bytes);
    res.writeHead(200, {
      'Accept-Ranges': 'bytes',
      'Content-Type': 'binary/octet-stream',
      ...meta.headers,
      ETag: `"${meta.md5}"`,
      'Last-Modified': new Date(meta.mtime * 1000).toUTCString(),
      'Content-Length': String(meta.size),
    });
    res.end(bytes);
    return true;
  };

  const fastPath = (req: IncomingMessage, res: ServerResponse, url: URL, method: string, target: StorageTarget | undefined): boolean => {
    if (method !== 'PUT' && method !== 'GET' && method !== 'HEAD') return false;
    if (!isPlainObject(target, url) || !authorised(req, url)) return false;
    const h = req.headers;
    const resource = `${target.bucket}/${target.key}`;
    if (method === 'PUT') {
      const sha = String(h['x-amz-content-sha256'] ?? '');
      const encoding = h['content-encoding'] ?? '';
      if (sha.startsWith('STREAMING') || encoding.includes('aws-chunked') || h['x-amz-copy-source'] !== undefined || h['x-amz-storage-class'] !== undefined) return false;
      fastPut(req, res, target.bucket, target.key).catch((error: unknown) => internalError(res, error, resource));
      return true;
    }
    if (h.range !== undefined || h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined) return false;
    try {
      return fastGet(req, res, target.bucket, target.key);
    } catch (error) {
      internalError(res, error, resource);
      return true;
    }
  };
  return fastPath;
}
