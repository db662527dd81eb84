import { createHash } from 'node:crypto';
import { rmdir, unlink } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { FaultController } from './faults.js';
import { flipBytes } from './faults.js';
import { ObjectFiles, type ObjectMeta } from './object-files.js';
import { decodeKeyPath, encodeKeyPath, isSafeBucketName } from './object-keys.js';
import { keptMetadata, storedHeaders } from './s3-answers.js';
import { s3rverServiceEndpoint } from './storage-request.js';

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

/** The s3rver the lake serves through, with its store made safe and durable (see createS3rverStore). */
export interface S3rverStorage {
  /** s3rver's Koa request handler. */
  koa: (req: IncomingMessage, res: ServerResponse) => void;
  store: S3rverStore;
  files: ObjectFiles;
  /** Writes an object the fast PUT received; `md5`: the hex md5 of `sent`, when the caller has it already. */
  storeObject: (bucket: string, key: string, sent: Buffer, metadata: Record<string, unknown>, md5?: string) => ObjectMeta;
}

/**
 * An s3rver over `directory`, its buckets configured. The store's putObject is replaced because
 * s3rver's resolves before the bytes are on disk (a GET right after a PUT could read a short file);
 * ours writes metadata first, then renames the complete object into place. Injected corruption is
 * applied in the store, so both engines (s3rver and the fast paths) see it.
 */
export async function createS3rverStore(options: { directory: string; buckets: string[]; accessKeyId: string; secretAccessKey: string; faults: FaultController }): Promise<S3rverStorage> {
  // The SDK's Node 20 end-of-support notice is not for the people running the lake (STYLE.md).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  patchS3rver();
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

  return { koa: s3rver.callback(), store, files, storeObject };
}
