import { createHash, randomBytes } from 'node:crypto';
import { readFile, rmdir, unlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { FaultController } from './faults.js';
import { flipBytes } from './faults.js';
import { readBody } from './http-io.js';
import { ObjectFiles, type ObjectMeta } from './object-files.js';
import { decodeKeyPath, encodeKeyPath, isSafeBucketName } from './object-keys.js';
import { locationFor, type RseRuntime } from './rse.js';
import type { StorageOps } from './context.js';
import { rucioErrors } from './rucio-error.js';
import { maxPresignedSeconds, presignUrl, verifySigV4 } from './sigv4.js';
import { checkRequest, isRefusal, lacksLength, parseTarget, s3rverServiceEndpoint, type StorageLimits, type StorageTarget } from './storage-request.js';

/** The parts of s3rver 3 (a Koa app, CommonJS, untyped) the lake relies on. */
interface S3rverObject {
  bucket: string;
  key: string;
  content: Buffer | Readable | null;
  metadata: Record<string, unknown>;
}
interface S3rverStore {
  getBucketPath(bucket: string): string;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, unknown>, md5?: string): Promise<void>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
  getObject(bucket: string, key: string, options?: unknown): Promise<S3rverObject | null>;
  deleteObject(bucket: string, key: string): Promise<void>;
  copyObject(srcBucket: string, srcKey: string, destBucket: string, destKey: string, replacementMetadata?: Record<string, unknown>): Promise<Record<string, unknown>>;
}
interface S3rverInstance {
  store: S3rverStore;
  configureBuckets(): Promise<void>;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;
interface FilesystemStoreClass {
  encodeKeyPath(key: string): string;
  decodeKeyPath(path: string): string;
}
interface XmlParserModule {
  validate(xml: string, options?: unknown): true | { err: { code: string; msg: string; line?: number } };
}
interface AwsAccountModule {
  DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
}

const require = createRequire(import.meta.url);

class BodyTooLarge extends Error {}

/** Deepest element nesting of an XML text (a scan, no parse: the parse is what could overflow). */
function xmlDepth(xml: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = xml.indexOf('<'); i >= 0; i = xml.indexOf('<', i + 1)) {
    const next = xml[i + 1];
    if (next === '/') depth--;
    else if (next !== '?' && next !== '!') {
      const end = xml.indexOf('>', i);
      if (end < 0 || xml[end - 1] !== '/') deepest = Math.max(deepest, ++depth);
    }
  }
  return deepest;
}

/** Far deeper than any S3 document (DeleteObjects, CompleteMultipartUpload, CORS) nests. */
const maxXmlDepth = 32;

let s3rverPatched = false;

/**
 * Process-wide changes to s3rver's modules, made once. Keys map to paths through the lake's
 * confining encoding (object-keys.ts) wherever s3rver builds or lists paths, and an XML body
 * nested deeper than any S3 document is MalformedXML (400) before s3rver's recursive parser runs
 * out of stack on it.
 */
function patchS3rver(): void {
  if (s3rverPatched) return;
  s3rverPatched = true;
  const FilesystemStore = require('s3rver/lib/stores/filesystem.js') as FilesystemStoreClass;
  FilesystemStore.encodeKeyPath = encodeKeyPath;
  FilesystemStore.decodeKeyPath = decodeKeyPath;
  const xmlParser = createRequire(require.resolve('s3rver'))('fast-xml-parser') as XmlParserModule;
  const validate = xmlParser.validate.bind(xmlParser);
  xmlParser.validate = (xml, validateOptions) =>
    xmlDepth(xml) > maxXmlDepth ? { err: { code: 'InvalidXml', msg: `elements nested deeper than ${maxXmlDepth} levels` } } : validate(xml, validateOptions);
}

async function toBuffer(content: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(content)) return content;
  const chunks: Buffer[] = [];
  for await (const chunk of content) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

/** The headers s3rver keeps with an object (models/object.js ALLOWED_METADATA + x-amz-meta-*). */
const allowedMetadata = new Set([
  'cache-control', 'content-disposition', 'content-encoding', 'content-language', 'content-type', 'expires',
  'x-amz-storage-class', 'x-amz-website-redirect-location',
]);

/** The entries s3rver would keep of a request's headers or a stored metadata record. */
function keptMetadata(metadata: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) {
    if (typeof value === 'string' && (allowedMetadata.has(name) || name.startsWith('x-amz-meta-'))) out[name] = value;
  }
  return out;
}

/** The kept metadata as response headers, in S3's capitalisation. */
function storedHeaders(metadata: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(keptMetadata(metadata))) {
    out[name.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase())] = value;
  }
  return out;
}

const s3ErrorCodes: Record<number, string> = { 500: 'InternalError', 502: 'BadGateway', 503: 'SlowDown', 504: 'GatewayTimeout' };

const xmlEntities: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };
/** Text for an XML element; control characters (which XML 1.0 cannot carry) become U+FFFD. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const xmlText = (text: string): string => text.replace(/[<>&"']/g, (ch) => xmlEntities[ch] ?? '').replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '\ufffd');

/**
 * S3's XML error; `details` are extra elements S3 adds for some codes (e.g. the digests of a
 * BadDigest). `resource` is what the client asked for, never a path of the server.
 */
function sendS3Error(res: ServerResponse, status: number, code: string, message: string, resource: string, details: Record<string, string> = {}): void {
  const extra = Object.entries(details).map(([name, value]) => `<${name}>${xmlText(value)}</${name}>`).join('');
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlText(message)}</Message>${extra}` +
    `<Resource>${xmlText(resource)}</Resource><RequestId>${randomBytes(8).toString('hex')}</RequestId></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': String(Buffer.byteLength(body)) });
  res.end(body);
}

const internalErrorMessage = 'We encountered an internal error. Please try again.';

export interface StorageServerOptions {
  directory: string;
  buckets: string[];
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  faults: FaultController;
  /** Check AWS SigV4 signatures (s3rver alone checks only the access key). */
  verifySignatures: boolean;
  /** Body limits; default 256 MiB per object, 1 MiB for XML documents. */
  limits?: Partial<StorageLimits>;
  /** An unexpected failure (answered 500 without its details, which may name server paths). */
  onError?: (error: unknown) => void;
}

const defaultLimits: StorageLimits = { maxObjectBytes: 256 * 1024 * 1024, maxDocumentBytes: 1024 * 1024 };

export interface StorageServer extends StorageOps {
  server: Server;
  /** Set once the server listens: presigned URLs point at it. */
  setEndpoint(endpoint: string): void;
}

/**
 * s3rver behind our own node:http server: storage faults (latency, 5xx, dropped connections) are
 * decided before s3rver sees the request, and corruption is applied in its store, without an extra
 * network hop. The store's putObject is replaced because s3rver's resolves before the bytes are on
 * disk (a GET right after a PUT could read a short file); ours writes metadata first, then renames
 * the complete object into place.
 */
export async function createStorageServer(options: StorageServerOptions): Promise<StorageServer> {
  // The SDK's Node 20 end-of-support notice is not for the people running the lake (STYLE.md).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  patchS3rver();
  const limits: StorageLimits = { ...defaultLimits, ...options.limits };
  const S3rver = require('s3rver') as S3rverConstructor;
  const accounts = require('s3rver/lib/models/account.js') as AwsAccountModule;
  accounts.DUMMY_ACCOUNT.createKeyPair(options.accessKeyId, options.secretAccessKey);
  const s3rver = new S3rver({
    directory: options.directory,
    silent: true,
    vhostBuckets: false,
    serviceEndpoint: s3rverServiceEndpoint,
    configureBuckets: options.buckets.map((name) => ({ name, configs: [] })),
  });
  await s3rver.configureBuckets();
  const store = s3rver.store;
  const faults = options.faults;
  const root = resolve(options.directory);

  // Every path s3rver builds goes through these two: a bucket name that could leave the storage
  // directory throws instead (the gate refuses unknown buckets before; this is the second wall).
  const bucketPath = (bucket: string): string => {
    if (!isSafeBucketName(bucket)) throw new Error(`refused bucket name of ${bucket.length} characters`);
    return join(root, bucket);
  };
  const resourcePath = store.getResourcePath.bind(store);
  store.getBucketPath = bucketPath;
  store.getResourcePath = (bucket, key = '', resource) => {
    bucketPath(bucket);
    return resourcePath(bucket, key, resource);
  };

  const files = new ObjectFiles((bucket, key, resource) => store.getResourcePath(bucket, key, resource));

  /** `md5`: the hex md5 of `sent`, when the caller has it already. */
  const storeObject = (bucket: string, key: string, sent: Buffer, metadata: Record<string, unknown>, md5 = createHash('md5').update(sent).digest('hex')): ObjectMeta => {
    // The ETag is the md5 of what the client sent, so an injected write corruption stays silent.
    const stored = faults.corrupt('write', `${bucket}/${key}`) ? flipBytes(sent) : sent;
    const headers = storedHeaders(metadata);
    const metadataJson = Object.keys(headers).length > 0 ? JSON.stringify(keptMetadata(metadata), null, 2) : undefined;
    return files.write(bucket, key, stored, md5, headers, metadataJson, stored !== sent);
  };

  store.putObject = async (object) => {
    const meta = storeObject(object.bucket, object.key, await toBuffer(object.content ?? Buffer.alloc(0)), object.metadata);
    return { size: meta.size, md5: meta.md5 };
  };
  // s3rver's own deleteObject removes emptied directories by splitting the raw key; this one walks
  // up from the object's encoded path and stops at the bucket directory.
  store.deleteObject = async (bucket, key) => {
    files.forget(bucket, key);
    files.forgetDirectories();
    const objectPath = store.getResourcePath(bucket, key, 'object');
    for (const path of [objectPath, `${objectPath}.md5`, store.getResourcePath(bucket, key, 'metadata.json')]) {
      await unlink(path).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      });
    }
    const top = bucketPath(bucket);
    for (let dir = dirname(objectPath); dir.startsWith(top + sep); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
    }
  };
  const originalCopy = store.copyObject.bind(store);
  store.copyObject = async (srcBucket, srcKey, destBucket, destKey, replacementMetadata) => {
    files.forget(destBucket, destKey);
    return originalCopy(srcBucket, srcKey, destBucket, destKey, replacementMetadata);
  };
  const originalGet = store.getObject.bind(store);
  store.getObject = async (bucket, key, getOptions) => {
    const object = await originalGet(bucket, key, getOptions);
    if (object?.content != null && faults.corrupt('read', `${bucket}/${key}`)) {
      object.content = flipBytes(await toBuffer(object.content));
    }
    return object;
  };

  const koa = s3rver.callback();
  const knownBuckets = new Set(options.buckets);

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

  /**
   * Plain object PUT/GET/HEAD skip s3rver's Koa stack (its per-request logging and three file
   * reads per GET cost more than the I/O) and use the same on-disk layout; everything else
   * (listings, ranges, conditional GETs, copies, streamed aws-chunked uploads, errors) is s3rver's.
   * The fast PUT checks Content-MD5 and the signed payload hash, which s3rver does not.
   */
  const internalError = (res: ServerResponse, error: unknown, resource: string): void => {
    options.onError?.(error);
    if (!res.headersSent) sendS3Error(res, 500, 'InternalError', internalErrorMessage, resource);
    else res.destroy();
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

  /** Answers a request before it reaches storage: the body, if any, is not read. */
  const refuse = (req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string, resource: string): void => {
    // Draining a body that is refused for its size would read it all: close the connection instead.
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
      res.setHeader('Connection', 'close');
      res.on('finish', () => req.destroy());
    }
    sendS3Error(res, status, code, message, resource);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const rawUrl = req.url?.startsWith('/') === true ? req.url : '/';
    const url = new URL(`http://storage.invalid${rawUrl}`);
    const rawPath = rawUrl.split('?', 1)[0] ?? '/';
    let resource = rawPath.slice(1);
    try {
      resource = decodeURIComponent(resource);
    } catch {
      // keep the raw path for error messages
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const signed = req.headers.authorization !== undefined || url.searchParams.has('X-Amz-Signature') || url.searchParams.has('Signature');
    if (!signed) {
      refuse(req, res, 403, 'AccessDenied', 'Anonymous access to the lake storage is denied: sign the request (or use a presigned URL)', resource);
      return;
    }
    if (options.verifySignatures) {
      const verdict = verifySigV4(method, rawUrl, req.headers, options);
      if (verdict?.ok !== true) {
        const code = verdict?.code ?? 'AccessDenied';
        refuse(req, res, code === 'AuthorizationQueryParametersError' ? 400 : 403, code, verdict?.message ?? 'only AWS Signature Version 4 is accepted', resource);
        return;
      }
    }
    // Checked on the raw path, before any file-system call, whichever engine serves the request.
    const parsed = parseTarget(rawUrl);
    if (isRefusal(parsed)) {
      refuse(req, res, parsed.status, parsed.code, parsed.message, resource);
      return;
    }
    const problem = checkRequest(req, method, parsed, url.searchParams, knownBuckets, limits);
    if (problem !== undefined) {
      refuse(req, res, problem.status, problem.code, problem.message, resource);
      return;
    }
    const decision = faults.storageDecision(method, resource);
    const proceed = (): void => {
      if (decision.drop) {
        req.socket.destroy();
        return;
      }
      if (decision.errorStatus !== undefined) {
        req.resume();
        sendS3Error(res, decision.errorStatus, s3ErrorCodes[decision.errorStatus] ?? 'InternalError', `injected fault: ${method} answered ${decision.errorStatus}`, resource);
        return;
      }
      if (fastPath(req, res, url, method, parsed)) return;
      // s3rver reads bodies without a limit: it gets only those whose length is declared (and checked).
      if (lacksLength(req)) {
        refuse(req, res, 411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.', resource);
        return;
      }
      koa(req, res);
    };
    if (decision.latencyMs > 0) setTimeout(proceed, decision.latencyMs);
    else proceed();
  };
  // A throw in a request listener would end the process: whatever a request holds, the server stays up.
  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (error) {
      req.resume();
      internalError(res, error, '');
    }
  });

  let presignEndpoint: string | undefined;

  /** Where the replica's bytes are; a DID name that would lead out of the RSE's directory is not found. */
  const filePathOf = (rse: RseRuntime, scope: string, name: string): string => {
    const location = locationFor(rse, scope, name);
    if (location.kind === 's3') return store.getResourcePath(location.bucket, location.key, 'object');
    if (location.kind === 'external') {
      throw rucioErrors.unsupported(`RSE '${rse.name}' keeps its objects on storage the lake does not run (${location.pfn}): change them there`);
    }
    const path = resolve(location.path);
    if (!path.startsWith(resolve(rse.prefix) + sep)) throw rucioErrors.replicaNotFound(`no stored object for '${scope}:${name}' on RSE '${rse.name}': the name leads outside the RSE`);
    return path;
  };

  const presigned = new PresignedUrls();
  return {
    server,
    setEndpoint(endpoint) {
      presignEndpoint = endpoint;
      presigned.clear();
    },
    presign(rse, op, pfn, lifetimeSeconds, presignOptions = {}) {
      // Signing is synchronous; its refusals still reach the caller as a rejected promise.
      return new Promise<string>((resolvePromise) => {
        if (presignEndpoint === undefined) throw rucioErrors.unavailable('the lake storage is not listening yet');
        const lifetime = Math.min(Math.floor(lifetimeSeconds), maxPresignedSeconds);
        const reuse = presignOptions.reuse === true;
        const reused = reuse ? presigned.get(op, pfn, lifetime) : undefined;
        if (reused !== undefined) {
          resolvePromise(reused);
          return;
        }
        let url: URL;
        try {
          url = new URL(pfn);
        } catch {
          throw rucioErrors.invalidValueForKey(`url '${pfn}' is not a URL`);
        }
        const [bucket, ...rest] = url.pathname.slice(1).split('/');
        const key = decodeURIComponent(rest.join('/'));
        if (bucket === undefined || bucket === '' || key === '' || bucket !== rse.bucket) {
          throw rucioErrors.invalidValueForKey(`url '${pfn}' is not an object of RSE '${rse.name}' (bucket '${rse.bucket ?? ''}')`);
        }
        const now = Date.now();
        const expiresSeconds = reuse ? presigned.expiresFor(lifetime) : lifetime;
        const signed = presignUrl({
          method: op === 'read' ? 'GET' : op === 'write' ? 'PUT' : 'DELETE',
          endpoint: presignEndpoint,
          bucket,
          key,
          accessKeyId: options.accessKeyId,
          secretAccessKey: options.secretAccessKey,
          region: options.region,
          expiresSeconds,
          now: new Date(now),
        });
        if (expiresSeconds > lifetime) presigned.set(op, pfn, lifetime, signed, now);
        resolvePromise(signed);
      });
    },
    async corruptObject(rse, scope, name) {
      const path = filePathOf(rse, scope, name);
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch {
        throw rucioErrors.replicaNotFound(`no stored object for '${scope}:${name}' on RSE '${rse.name}' (${path})`);
      }
      await writeFile(path, flipBytes(bytes));
    },
    async deleteObject(rse, scope, name) {
      const location = locationFor(rse, scope, name);
      try {
        await unlink(filePathOf(rse, scope, name));
        if (location.kind === 's3') await store.deleteObject(location.bucket, location.key);
      } catch {
        throw rucioErrors.replicaNotFound(`no stored object for '${scope}:${name}' on RSE '${rse.name}'`);
      }
    },
  };
}

/**
 * Presigned URLs handed out again for a minute. Rucio signs every listed PFN of a sign_url RSE at
 * every listing, and a consumer polling every 250 ms lists each new file several times (its
 * look-back spans Rucio's one-second `updated_after` resolution): signing once per file and minute
 * saves most of the signatures (about 0.1 ms each). A URL is signed for its lifetime plus the
 * minute, so one handed out again later is still valid for at least the lifetime asked for.
 */
class PresignedUrls {
  private static readonly reuseMs = 59_000;
  private static readonly limit = 8_192;
  private readonly urls = new Map<string, { url: string; signedAt: number }>();

  /** The X-Amz-Expires to sign with: the lifetime plus the reuse window, within S3's 7 days. */
  expiresFor(lifetimeSeconds: number): number {
    const extended = lifetimeSeconds + Math.ceil(PresignedUrls.reuseMs / 1000) + 1;
    return extended <= maxPresignedSeconds ? extended : lifetimeSeconds;
  }

  get(op: string, pfn: string, lifetimeSeconds: number, now = Date.now()): string | undefined {
    const entry = this.urls.get(`${op} ${lifetimeSeconds} ${pfn}`);
    return entry !== undefined && now - entry.signedAt < PresignedUrls.reuseMs ? entry.url : undefined;
  }

  set(op: string, pfn: string, lifetimeSeconds: number, url: string, signedAt: number): void {
    // Bounded: a minute of a fast stream's files; the oldest go first.
    if (this.urls.size >= PresignedUrls.limit) {
      const oldest = this.urls.keys().next().value;
      if (oldest !== undefined) this.urls.delete(oldest);
    }
    this.urls.set(`${op} ${lifetimeSeconds} ${pfn}`, { url, signedAt });
  }

  clear(): void {
    this.urls.clear();
  }
}
