import { NotFoundError, RuntimeFailure, TransientError, type WavefierErrorOptions } from '../common/errors.js';
import { redactUrl } from '../common/redact.js';

/**
 * One storage protocol (s3, file, presigned http) addressed by PFN. Every backend passes the same
 * conformance suite (test/integration/rucio-object-store.test.ts), rclone-style.
 *
 * Error contract, for every method:
 * - `ObjectNotFoundError` (a NotFoundError): the object does not exist (get on a missing PFN).
 * - `StorageTransientError` (a TransientError, `retryable`): 5xx, throttling, reset connection,
 *   timeout; the same call may succeed later.
 * - `StorageError` (a RuntimeFailure): anything else (denied, bad PFN, full disk); retrying will not help.
 * Messages carry the PFN with any signature redacted.
 */
export interface ObjectStore {
  readonly scheme: string;
  /**
   * Writes the whole object; replaces an existing one unless `ifAbsent` is set, in which case an
   * existing object makes it throw `ObjectExistsError` (best effort: S3 servers that ignore
   * `If-None-Match`, such as s3rver, overwrite). Visible to `get` once resolved.
   */
  put(pfn: string, bytes: Uint8Array, options?: PutOptions): Promise<void>;
  /** Reads the whole object. Throws ObjectNotFoundError when missing. */
  get(pfn: string, options?: StoreCallOptions): Promise<Uint8Array>;
  /** Size of the object, or undefined when it does not exist (never throws ObjectNotFoundError). */
  stat(pfn: string, options?: StoreCallOptions): Promise<{ bytes: number } | undefined>;
  /** Removes the object; removing a missing object is not an error. */
  delete(pfn: string, options?: StoreCallOptions): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
  /**
   * Removes the parent collections of `pfn` that this store created and that are empty now, up to
   * the protocol prefix (doctor's probe leaves nothing behind). Stores that create none omit it.
   */
  removeEmptyParents?(pfn: string, options?: StoreCallOptions): Promise<void>;
  /** What the store presents to storage (certificate, proxy, token: where from), for doctor and messages. */
  readonly presented?: string;
}

export interface StoreCallOptions {
  signal?: AbortSignal | undefined;
}

export interface PutOptions extends StoreCallOptions {
  ifAbsent?: boolean;
  /**
   * Hex md5 of the bytes, when the caller has it already: S3 stores send it as Content-MD5, so the
   * server refuses bytes damaged on the way instead of storing them.
   */
  md5?: string;
  /**
   * Hex adler32 of the bytes, when the caller has it: WebDAV stores send it as `Digest: adler32=`
   * and compare it with the Digest a server computes (dCache, StoRM, XRootD), never instead of
   * the caller's own verification.
   */
  adler32?: string;
}

/** `put` with `ifAbsent` found an object already there. */
export class ObjectExistsError extends RuntimeFailure {
  constructor(
    readonly pfn: string,
    options?: WavefierErrorOptions,
  ) {
    super(`object ${redactUrl(pfn)} already exists in storage and was not overwritten`, options);
  }
}

export class ObjectNotFoundError extends NotFoundError {
  constructor(
    readonly pfn: string,
    options?: WavefierErrorOptions,
  ) {
    super(`object ${redactUrl(pfn)} does not exist in storage; it was never written or has been deleted`, options);
  }
}

export class StorageTransientError extends TransientError {
  constructor(
    readonly operation: string,
    readonly pfn: string,
    reason: string,
    options?: WavefierErrorOptions,
  ) {
    super(`storage ${operation} of ${redactUrl(pfn)} failed: ${reason}; it may succeed if retried`, options);
  }
}

/** A server refused a PUT's Content-MD5 (S3 BadDigest): nothing was stored, and sending the bytes again is the cure. */
export function badDigestError(pfn: string, options?: WavefierErrorOptions): StorageTransientError {
  return new StorageTransientError('put', pfn, 'HTTP 400 BadDigest: the storage received other bytes than were sent', options);
}

export class StorageError extends RuntimeFailure {
  constructor(
    readonly operation: string,
    readonly pfn: string,
    reason: string,
    options?: WavefierErrorOptions,
  ) {
    super(`storage ${operation} of ${redactUrl(pfn)} failed: ${reason}`, options);
  }
}

/**
 * Storage refused the credentials presented (HTTP 401 or 403, or a TLS alert about the client
 * certificate), or this client did not trust the storage's certificate. Retrying will not help;
 * the message names the credential and what to change.
 */
export class StorageAccessError extends StorageError {
  constructor(
    operation: string,
    pfn: string,
    reason: string,
    /** What was presented, e.g. "X.509 proxy /tmp/x509up_u1000 (the default proxy location)". */
    readonly presented: string,
    /** The HTTP status, or undefined for a refusal in the TLS handshake. */
    readonly status?: number,
    options?: WavefierErrorOptions,
  ) {
    super(operation, pfn, reason, options);
  }
}

/** Network error codes after which the same storage call may well succeed. */
export function isTransientNetworkCode(code: string | undefined): boolean {
  return (
    code !== undefined &&
    ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
      'UND_ERR_CONNECT_TIMEOUT', 'EAI_AGAIN', 'TimeoutError', 'RequestTimeout', 'ERR_STREAM_PREMATURE_CLOSE'].includes(code)
  );
}
