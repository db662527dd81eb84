import { createHash, randomBytes } from 'node:crypto';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { resolve, sep } from 'node:path';
import type { FaultController } from './faults.js';
import { flipBytes } from './faults.js';
import { PresignedUrls } from './presigned-urls.js';
import { locationFor, type RseRuntime } from './rse.js';
import type { StorageOps } from './context.js';
import { rucioErrors } from './rucio-error.js';
import { internalErrorMessage, s3ErrorCodes, sendS3Error } from './s3-answers.js';
import { createS3rverStore, type S3rverStorage } from './s3rver-store.js';
import { maxPresignedSeconds, presignUrl, verifySigV4 } from './sigv4.js';
import { createFastPath } from './storage-fast-path.js';
import { checkRequest, isRefusal, lacksLength, parseTarget, type StorageLimits } from './storage-request.js';

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
 * network hop. Plain object requests take the fast path (storage-fast-path.ts).
 */
export async function createStorageServer(options: StorageServerOptions): Promise<StorageServer> {
  const limits: StorageLimits = { ...defaultLimits, ...options.limits };
  const storage = await createS3rverStore(options);
  const { koa, store } = storage;
  const faults = options.faults;
  const knownBuckets = new Set(options.buckets);

  const internalError = (res: ServerResponse, error: unknown, resource: string): void => {
    options.onError?.(error);
    if (!res.headersSent) sendS3Error(res, 500, 'InternalError', internalErrorMessage, resource);
    else res.destroy();
  };
  const fastPath = createFastPath({ accessKeyId: options.accessKeyId, verifySignatures: options.verifySignatures, limits, faults, storage, internalError });
  const [firstBucket] = options.buckets;
  if (firstBucket !== undefined) await warmUpWrites(storage, firstBucket);

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

/** How many times warmUpWrites stores and deletes its object. */
const warmUpWriteRounds = 3;

/**
 * Runs what a PUT on the fast path runs once it has the body (the md5, the existence check and the
 * object's write into a directory of its own, as Rucio's hash layout gives every chunk) and the
 * object's deletion a few times, before the server listens: the first upload of a rehearsal found
 * this code cold and its PUT took 0.4-1.2 ms longer in the lake than the next ones'. The object
 * (32 KiB of zeros, a key no client uses) is gone before any client can connect. Never throws: a
 * store that fails here meets the problem again at the first PUT and answers it.
 */
async function warmUpWrites(storage: S3rverStorage, bucket: string): Promise<void> {
  const key = `wavefier-lake-warm-up/${process.pid}-${randomBytes(6).toString('hex')}/object`;
  const body = Buffer.alloc(32 * 1024);
  try {
    for (let round = 0; round < warmUpWriteRounds; round++) {
      const md5 = createHash('md5').update(body).digest('hex');
      if (!storage.files.exists(bucket, key)) storage.storeObject(bucket, key, body, {}, md5);
      await storage.store.deleteObject(bucket, key);
    }
  } catch {
    await storage.store.deleteObject(bucket, key).catch(() => undefined);
  }
}
