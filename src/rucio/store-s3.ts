import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { definedProps } from '../common/defined.js';
import {
  badDigestError,
  isTransientNetworkCode,
  ObjectExistsError,
  ObjectNotFoundError,
  StorageError,
  StorageTransientError,
  type ObjectStore,
  type PutOptions,
  type StoreCallOptions,
} from './object-store.js';
import { locateS3Object } from './s3-location.js';

export interface S3StoreOptions {
  /** scheme://host:port of the S3 service. */
  endpoint: string;
  region: string;
  /** Explicit credentials; without them the SDK's default chain (AWS_* env, ~/.aws) applies. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  forcePathStyle: boolean;
  /**
   * WHEN_REQUIRED (default) is what non-AWS servers need: with the SDK's newer default, streamed
   * uploads to s3rver store the aws-chunked framing inside the object.
   */
  checksums: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';
  /** SDK attempts per call for 5xx/throttling (default 3). */
  maxAttempts?: number;
  requestTimeoutMs?: number;
  ca?: string[] | undefined;
  rejectUnauthorized?: boolean;
}

/**
 * The `s3` protocol: PFN `s3://host:port/<bucket>/<key>`, where the RSE prefix's first segment is
 * the bucket. One client (and connection pool) per endpoint and credentials, kept by the registry.
 */
export class S3Store implements ObjectStore {
  readonly scheme = 's3';
  private readonly client: S3Client;

  constructor(readonly options: S3StoreOptions) {
    // The SDK warns on stderr about Node 20 support at client construction; not the user's concern.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      requestChecksumCalculation: options.checksums,
      responseChecksumValidation: options.checksums,
      maxAttempts: options.maxAttempts ?? 3,
      ...definedProps({ credentials: options.credentials }),
      requestHandler: {
        requestTimeout: options.requestTimeoutMs ?? 30_000,
        connectionTimeout: 10_000,
        httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
        httpsAgent: new HttpsAgent({
          keepAlive: true,
          maxSockets: 64,
          ...definedProps({ ca: options.ca }),
          rejectUnauthorized: options.rejectUnauthorized ?? true,
        }),
      },
    });
  }

  /** Bucket and key of a PFN: the first path segment is the bucket. */
  static locate(pfn: string): { bucket: string; key: string } {
    return locateS3Object(pfn);
  }

  async put(pfn: string, bytes: Uint8Array, options?: PutOptions): Promise<void> {
    const { bucket, key } = S3Store.locate(pfn);
    const body = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentLength: body.byteLength,
          ...(options?.md5 === undefined ? {} : { ContentMD5: Buffer.from(options.md5, 'hex').toString('base64') }),
          ...(options?.ifAbsent === true ? { IfNoneMatch: '*' } : {}),
        }),
        definedProps({ abortSignal: options?.signal }),
      );
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (options?.ifAbsent === true && (status === 412 || (error as { name?: string }).name === 'PreconditionFailed')) {
        throw new ObjectExistsError(pfn, { cause: error });
      }
      throw s3Error('put', pfn, error);
    }
  }

  async get(pfn: string, options?: StoreCallOptions): Promise<Uint8Array> {
    const { bucket, key } = S3Store.locate(pfn);
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key }),
        definedProps({ abortSignal: options?.signal }),
      );
      if (response.Body === undefined) throw new StorageError('get', pfn, 'the server returned no body');
      return await response.Body.transformToByteArray();
    } catch (error) {
      throw s3Error('get', pfn, error);
    }
  }

  async stat(pfn: string, options?: StoreCallOptions): Promise<{ bytes: number } | undefined> {
    const { bucket, key } = S3Store.locate(pfn);
    try {
      const response = await this.client.send(
        new HeadObjectCommand({ Bucket: bucket, Key: key }),
        definedProps({ abortSignal: options?.signal }),
      );
      return { bytes: response.ContentLength ?? 0 };
    } catch (error) {
      const mapped = s3Error('stat', pfn, error);
      if (mapped instanceof ObjectNotFoundError) return undefined;
      throw mapped;
    }
  }

  async delete(pfn: string, options?: StoreCallOptions): Promise<void> {
    const { bucket, key } = S3Store.locate(pfn);
    try {
      await this.client.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: key }),
        definedProps({ abortSignal: options?.signal }),
      );
    } catch (error) {
      const mapped = s3Error('delete', pfn, error);
      if (mapped instanceof ObjectNotFoundError) return;
      throw mapped;
    }
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }
}

function s3Error(operation: string, pfn: string, error: unknown): Error {
  if (error instanceof StorageError) return error;
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown; message?: string };
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? 'Error';
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    if (name === 'NoSuchBucket') {
      return new StorageError(operation, pfn, 'the bucket does not exist; create it or fix the RSE prefix', { cause: error });
    }
    return new ObjectNotFoundError(pfn, { cause: error });
  }
  if (name === 'BadDigest') return badDigestError(pfn, { cause: error });
  if ((status !== undefined && (status >= 500 || status === 429)) || e.$retryable !== undefined || isTransientNetworkCode(e.code ?? name)) {
    return new StorageTransientError(operation, pfn, `${name}${status === undefined ? '' : ` (HTTP ${status})`}`, { cause: error });
  }
  if (name === 'CredentialsProviderError') {
    return new StorageError(
      operation,
      pfn,
      'no S3 credentials for this RSE: add it to rse-accounts.cfg next to rucio.cfg, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
      { cause: error },
    );
  }
  const hint =
    status === 403 || name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch'
      ? '; check the S3 credentials for this RSE (rse-accounts.cfg or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)'
      : '';
  return new StorageError(operation, pfn, `${name}${status === undefined ? '' : ` (HTTP ${status})`}: ${e.message ?? ''}${hint}`, {
    cause: error,
  });
}
