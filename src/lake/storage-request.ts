import type { IncomingMessage } from 'node:http';
import { objectKeyProblem } from './object-keys.js';

/** What the gate refuses a request with: an S3 error code, its status, a message for the client. */
export interface StorageRefusal {
  status: number;
  code: string;
  message: string;
}

/** The bucket and key a path-style request names, decoded once as S3 does; key '' for bucket requests. */
export interface StorageTarget {
  bucket: string;
  key: string;
}

export interface StorageLimits {
  /** Largest object body accepted (PUT of an object or of a part). */
  maxObjectBytes: number;
  /** Largest body of any other request (XML documents: multi-object delete, complete multipart, configs). */
  maxDocumentBytes: number;
}

/** Host names s3rver would read a bucket from (its vhost middleware); the lake is path-style only. */
export const s3rverServiceEndpoint = 'amazonaws.com';
const virtualHostPattern = /^(?:.+\.)?s3(?:-website)?(?:[-.].+)?\.amazonaws\.com$/i;

const refusal = (status: number, code: string, message: string): StorageRefusal => ({ status, code, message });

function decodePart(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/**
 * The target of a request from its path exactly as sent. Not from a WHATWG URL: its parser
 * resolves `..` and `%2E%2E` segments, so it would see a different path from s3rver's router,
 * which decodes the raw path (the gap that let `x/../../..` through to the file system).
 */
export function parseTarget(rawUrl: string): StorageTarget | StorageRefusal | undefined {
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  if (!path.startsWith('/') || path === '/') return undefined;
  const slash = path.indexOf('/', 1);
  const bucket = decodePart(slash < 0 ? path.slice(1) : path.slice(1, slash));
  const key = slash < 0 ? '' : decodePart(path.slice(slash + 1));
  if (bucket === undefined || key === undefined) return refusal(400, 'InvalidURI', "Couldn't parse the specified URI.");
  return { bucket, key };
}

export const isRefusal = (value: unknown): value is StorageRefusal => typeof value === 'object' && value !== null && 'status' in value;

function contentLength(req: IncomingMessage): number | undefined | StorageRefusal {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  if (!/^\d{1,15}$/.test(header)) return refusal(400, 'InvalidArgument', 'The Content-Length header is not a number of bytes.');
  return Number(header);
}

/**
 * Everything the lake checks of a signed request before any file-system call: the bucket is one of
 * the lake's, every key (the target's and a copy source's) is acceptable, the multipart parameters
 * are what s3rver would generate, and the body is within its limit. Undefined when it may proceed.
 */
export function checkRequest(
  req: IncomingMessage,
  method: string,
  target: StorageTarget | undefined,
  query: URLSearchParams,
  buckets: ReadonlySet<string>,
  limits: StorageLimits,
): StorageRefusal | undefined {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  if (virtualHostPattern.test(host)) {
    return refusal(400, 'InvalidArgument', 'This storage serves path-style requests only (http://host:port/bucket/key).');
  }
  if (target !== undefined) {
    if (!buckets.has(target.bucket)) return refusal(404, 'NoSuchBucket', 'The specified bucket does not exist.');
    if (target.key !== '') {
      const problem = objectKeyProblem(target.key);
      if (problem !== undefined) return refusal(400, problem.code, problem.message);
    }
  }
  const uploadId = query.get('uploadId');
  if (uploadId !== null && !/^[0-9a-f]{32}$/.test(uploadId)) {
    return refusal(404, 'NoSuchUpload', 'The specified multipart upload does not exist.');
  }
  const partNumber = query.get('partNumber');
  if (partNumber !== null && (!/^\d{1,5}$/.test(partNumber) || Number(partNumber) < 1 || Number(partNumber) > 10_000)) {
    return refusal(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
  }
  const copySource = req.headers['x-amz-copy-source'];
  if (copySource !== undefined) {
    const problem = copySourceProblem(Array.isArray(copySource) ? copySource.join(',') : copySource, buckets);
    if (problem !== undefined) return problem;
  }

  const length = contentLength(req);
  if (isRefusal(length)) return length;
  const decoded = req.headers['x-amz-decoded-content-length'];
  const objectBody = method === 'PUT' && target !== undefined && target.key !== '' && [...query.keys()].every((name) => name === 'partNumber' || name === 'uploadId' || name === 'x-id' || name.startsWith('X-Amz-'));
  const limit = objectBody ? limits.maxObjectBytes : limits.maxDocumentBytes;
  const declared = Math.max(length ?? 0, decoded !== undefined && /^\d{1,15}$/.test(String(decoded)) ? Number(decoded) : 0);
  if (declared > limit) {
    return objectBody
      ? refusal(400, 'EntityTooLarge', `Your proposed upload exceeds the maximum allowed object size of this storage (${limits.maxObjectBytes} bytes).`)
      : refusal(400, 'MaxMessageLengthExceeded', `Your request was too big (at most ${limits.maxDocumentBytes} bytes).`);
  }
  return undefined;
}

/** s3rver reads `x-amz-copy-source` with decodeURI and splits off the bucket at the first `/`. */
function copySourceProblem(header: string, buckets: ReadonlySet<string>): StorageRefusal | undefined {
  let source: string;
  try {
    source = decodeURI(header);
  } catch {
    return refusal(400, 'InvalidArgument', 'The x-amz-copy-source header is not valid percent-encoding.');
  }
  if (source.startsWith('/')) source = source.slice(1);
  const slash = source.indexOf('/');
  const bucket = slash < 0 ? source : source.slice(0, slash);
  const key = slash < 0 ? '' : source.slice(slash + 1);
  if (!buckets.has(bucket)) return refusal(404, 'NoSuchBucket', 'The specified bucket does not exist.');
  const problem = objectKeyProblem(key);
  return problem === undefined ? undefined : refusal(400, problem.code, `x-amz-copy-source: ${problem.message}`);
}

/**
 * A body of undeclared length, which s3rver would read without a limit (the fast path counts what
 * arrives instead). An aws-chunked upload declares its length in x-amz-decoded-content-length.
 */
export function lacksLength(req: IncomingMessage): boolean {
  return req.headers['content-length'] === undefined && req.headers['x-amz-decoded-content-length'] === undefined && req.headers['transfer-encoding'] !== undefined;
}
