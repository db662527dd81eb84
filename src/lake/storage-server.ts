import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { FaultController } from './faults.js';
import { flipBytes } from './faults.js';
import { locationFor, type RseRuntime } from './rse.js';
import type { StorageOps } from './context.js';
import { rucioErrors } from './rucio-error.js';

/** The parts of s3rver 3 (a Koa app, CommonJS, untyped) the lake relies on. */
interface S3rverObject {
  bucket: string;
  key: string;
  content: Buffer | Readable | null;
  metadata: Record<string, unknown>;
}
interface S3rverStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, unknown>, md5?: string): Promise<void>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
  getObject(bucket: string, key: string, options?: unknown): Promise<S3rverObject | null>;
  deleteObject(bucket: string, key: string): Promise<void>;
}
interface S3rverInstance {
  store: S3rverStore;
  configureBuckets(): Promise<void>;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;
interface AwsAccountModule {
  DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
}

const require = createRequire(import.meta.url);

async function toBuffer(content: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(content)) return content;
  const chunks: Buffer[] = [];
  for await (const chunk of content) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

const s3ErrorCodes: Record<number, string> = { 500: 'InternalError', 502: 'BadGateway', 503: 'SlowDown', 504: 'GatewayTimeout' };

function sendS3Error(res: ServerResponse, status: number, code: string, message: string, resource: string): void {
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
    `<Resource>${resource.replace(/[<>&]/g, '')}</Resource><RequestId>${randomBytes(8).toString('hex')}</RequestId></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': String(Buffer.byteLength(body)) });
  res.end(body);
}

export interface StorageServerOptions {
  directory: string;
  buckets: string[];
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  faults: FaultController;
}

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
  const S3rver = require('s3rver') as S3rverConstructor;
  const accounts = require('s3rver/lib/models/account.js') as AwsAccountModule;
  accounts.DUMMY_ACCOUNT.createKeyPair(options.accessKeyId, options.secretAccessKey);
  const s3rver = new S3rver({
    directory: options.directory,
    silent: true,
    vhostBuckets: false,
    configureBuckets: options.buckets.map((name) => ({ name, configs: [] })),
  });
  await s3rver.configureBuckets();
  const store = s3rver.store;
  const faults = options.faults;

  store.putObject = async (object) => {
    const sent = await toBuffer(object.content ?? Buffer.alloc(0));
    const stored = faults.corrupt('write', `${object.bucket}/${object.key}`) ? flipBytes(sent) : sent;
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(objectPath), { recursive: true });
    // The ETag is the md5 of what the client sent, so an injected write corruption stays silent.
    const md5 = createHash('md5').update(sent).digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    const temporary = `${objectPath}.${randomBytes(6).toString('hex')}.partial`;
    await writeFile(temporary, stored);
    await rename(temporary, objectPath);
    return { size: stored.length, md5 };
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
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://storage.invalid');
    let resource = url.pathname.slice(1);
    try {
      resource = decodeURIComponent(resource);
    } catch {
      // keep the raw path for matching
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const signed = req.headers.authorization !== undefined || url.searchParams.has('X-Amz-Signature') || url.searchParams.has('Signature');
    if (!signed) {
      req.resume();
      sendS3Error(res, 403, 'AccessDenied', 'Anonymous access to the lake storage is denied: sign the request (or use a presigned URL)', resource);
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
      koa(req, res);
    };
    if (decision.latencyMs > 0) setTimeout(proceed, decision.latencyMs);
    else proceed();
  });

  let presigner: S3Client | undefined;
  const presignerFor = (endpoint: string): S3Client =>
    new S3Client({
      endpoint,
      region: options.region,
      forcePathStyle: true,
      // Otherwise the SDK bakes a checksum of the (empty) body into presigned PUT URLs.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    });

  const filePathOf = (rse: RseRuntime, scope: string, name: string): string => {
    const location = locationFor(rse, scope, name);
    return location.kind === 'file' ? location.path : store.getResourcePath(location.bucket, location.key, 'object');
  };

  return {
    server,
    setEndpoint(endpoint) {
      presigner = presignerFor(endpoint);
    },
    async presign(rse, op, pfn, lifetimeSeconds) {
      if (presigner === undefined) throw rucioErrors.unavailable('the lake storage is not listening yet');
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
      const input = { Bucket: bucket, Key: key };
      const command = op === 'read' ? new GetObjectCommand(input) : op === 'write' ? new PutObjectCommand(input) : new DeleteObjectCommand(input);
      return getSignedUrl(presigner, command, { expiresIn: Math.min(Math.floor(lifetimeSeconds), 604_800) });
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
        if (location.kind === 'file') await unlink(location.path);
        else {
          await unlink(store.getResourcePath(location.bucket, location.key, 'object'));
          await store.deleteObject(location.bucket, location.key);
        }
      } catch {
        throw rucioErrors.replicaNotFound(`no stored object for '${scope}:${name}' on RSE '${rse.name}'`);
      }
    },
  };
}
