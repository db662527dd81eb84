import {
  ConfigError,
  IntegrityError,
  NotFoundError,
  RuntimeFailure,
  TransientError,
  UnavailableError,
  UsageError,
  type WavefierError,
  type WavefierErrorOptions,
} from '../common/errors.js';

/**
 * What a failed Rucio REST call tells us, carried by every catalog error so callers can branch on
 * the server's `ExceptionClass` (e.g. 409 DataIdentifierAlreadyExists is fine for a dataset).
 */
export interface RucioFailure {
  /** What we were doing, e.g. "attach files to dataset". */
  operation: string;
  /** The DID or RSE the operation was about, e.g. "wavefier:run1". */
  subject?: string | undefined;
  status?: number | undefined;
  exceptionClass?: string | undefined;
  exceptionMessage?: string | undefined;
}

/** The first value of a response header (undici gives arrays for repeated headers). */
export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The Rucio failure carried by a non-success response: body JSON first, headers second (as the Python client). */
export function failureFrom(
  operation: string,
  subject: string | undefined,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: string,
): RucioFailure {
  let exceptionClass = headerValue(headers, 'ExceptionClass');
  let exceptionMessage = headerValue(headers, 'ExceptionMessage');
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    try {
      const data = JSON.parse(trimmed) as { ExceptionClass?: unknown; ExceptionMessage?: unknown };
      if (typeof data.ExceptionClass === 'string') exceptionClass = data.ExceptionClass;
      if (typeof data.ExceptionMessage === 'string') exceptionMessage = data.ExceptionMessage;
    } catch {
      // not JSON: keep the headers
    }
  }
  return { operation, subject, status, exceptionClass, exceptionMessage };
}

function describe(failure: RucioFailure, hint?: string): string {
  const about = failure.subject === undefined ? '' : ` ${failure.subject}`;
  const server =
    failure.exceptionClass === undefined
      ? failure.status === undefined
        ? ''
        : `: HTTP ${failure.status}`
      : `: ${failure.status === undefined ? '' : `HTTP ${failure.status} `}${failure.exceptionClass}${
          failure.exceptionMessage === undefined || failure.exceptionMessage === '' ? '' : ` (${failure.exceptionMessage})`
        }`;
  return `${failure.operation}${about} failed${server}${hint === undefined ? '' : `; ${hint}`}`;
}

export interface RucioError extends WavefierError {
  readonly failure: RucioFailure;
}

/** The DID, RSE, scope or account does not exist on the server. */
export class RucioNotFoundError extends NotFoundError implements RucioError {
  constructor(readonly failure: RucioFailure, options?: WavefierErrorOptions) {
    super(describe(failure, 'check the name and scope, or create it first'), options);
  }
}

/** The server refused our identity: wrong password, unknown certificate, expired token. Fix the credentials. */
export class RucioAuthenticationError extends ConfigError implements RucioError {
  constructor(readonly failure: RucioFailure, hint: string, options?: WavefierErrorOptions) {
    super(describe(failure, hint), options);
  }
}

/** The identity is known but not allowed to do this (Rucio's permission policy). */
export class RucioAccessDeniedError extends RuntimeFailure implements RucioError {
  constructor(readonly failure: RucioFailure, hint: string, options?: WavefierErrorOptions) {
    super(describe(failure, hint), options);
  }
}

/** 409-style conflicts: already exists, duplicate content, closed dataset. `exceptionClass` tells which. */
export class RucioConflictError extends RuntimeFailure implements RucioError {
  constructor(readonly failure: RucioFailure, hint?: string, options?: WavefierErrorOptions) {
    super(describe(failure, hint), options);
  }
}

/**
 * The account's quota (Rucio's account limit) on the RSE does not allow the rule or replica: an
 * admin raises it, or another RSE is used. Not retried: quotas do not grow by themselves.
 */
export class RucioQuotaError extends RuntimeFailure implements RucioError {
  constructor(readonly failure: RucioFailure, hint: string, options?: WavefierErrorOptions) {
    super(describe(failure, hint), options);
  }
}

/** The server rejected the request as malformed (bad name, bad RSE expression, schema violation). */
export class RucioRequestError extends UsageError implements RucioError {
  constructor(readonly failure: RucioFailure, options?: WavefierErrorOptions) {
    super(describe(failure, 'check the scope, names and RSE expression against Rucio\'s naming rules'), options);
  }
}

/** 502/503/504, a reset connection or a timeout that persisted through every retry. */
export class RucioTransientError extends TransientError implements RucioError {
  constructor(readonly failure: RucioFailure, hint?: string, options?: WavefierErrorOptions) {
    super(describe(failure, hint ?? 'the server or network is struggling; try again later'), options);
  }
}

/** The Rucio server could not be reached at all (refused, DNS, TLS handshake). */
export class RucioUnavailableError extends UnavailableError implements RucioError {
  constructor(readonly failure: RucioFailure, hint: string, options?: WavefierErrorOptions) {
    super(describe(failure, hint), options);
  }
}

/** Any other server answer we cannot interpret as success. */
export class RucioApiError extends RuntimeFailure implements RucioError {
  constructor(readonly failure: RucioFailure, hint?: string, options?: WavefierErrorOptions) {
    super(describe(failure, hint), options);
  }
}

/** The bytes read from storage do not match the catalog's checksums on any replica. */
export class ChecksumMismatchError extends IntegrityError {
  constructor(
    readonly did: string,
    readonly expected: { adler32: string; md5?: string | undefined; bytes: number },
    readonly actual: { pfn: string; rse: string; adler32: string; md5: string; bytes: number }[],
  ) {
    // The same replica is read more than once: say each distinct result once, with how often.
    const reads = new Map<string, number>();
    for (const a of actual) {
      const text = `${a.rse}: adler32 ${a.adler32}, ${a.bytes} bytes`;
      reads.set(text, (reads.get(text) ?? 0) + 1);
    }
    const seen = [...reads].map(([text, times]) => (times > 1 ? `${text} (${times} reads)` : text)).join('; ');
    super(
      `download ${did} failed: every replica is corrupt (catalog adler32 ${expected.adler32}, ${expected.bytes} bytes; ` +
        `read ${seen}); the stored objects differ from what was registered, re-upload the file or repair the RSE`,
    );
  }
}

/** A DID already exists with different content: an upload must never overwrite it. */
export class DidConflictError extends IntegrityError {
  constructor(
    readonly did: string,
    readonly existing: { adler32?: string | undefined; bytes?: number | undefined },
    readonly attempted: { adler32: string; bytes: number },
  ) {
    super(
      `upload ${did} refused: the catalog already holds it with adler32 ${existing.adler32 ?? 'unknown'} ` +
        `(${existing.bytes ?? '?'} bytes) but these bytes have adler32 ${attempted.adler32} (${attempted.bytes} bytes); ` +
        'DIDs are immutable, upload under a new name (e.g. a new run id)',
    );
  }
}

const notFoundClasses = new Set([
  'DataIdentifierNotFound',
  'RSENotFound',
  'ScopeNotFound',
  'AccountNotFound',
  'RuleNotFound',
  'ReplicaNotFound',
  'RSEAttributeNotFound',
  'RSEProtocolNotSupported',
]);
const authClasses = new Set(['CannotAuthenticate', 'IdentityNotFound', 'IdentityError']);
const conflictClasses = new Set([
  'DataIdentifierAlreadyExists',
  'Duplicate',
  'DuplicateContent',
  'FileAlreadyExists',
  'UnsupportedOperation',
  'FileConsistencyMismatch',
  'DuplicateRule',
  'RSEOperationNotSupported',
]);
const requestClasses = new Set([
  'InvalidObject',
  'InvalidRSEExpression',
  'InputValidationError',
  'InvalidPath',
  'ValueError',
  'InvalidType',
  'KeyNotFound',
  'InvalidValueForKey',
  'UnsupportedValueType',
]);

/** Permission policy hint for AccessDenied on replica registration (DESIGN §4b, generic policy). */
export const genericPolicyHint =
  "under Rucio's 'generic' permission policy a non-admin account may add replicas only on RSEs whose name ends " +
  'with SCRATCHDISK, USERDISK, LOCALGROUPDISK or MOCK; use such an RSE, give the account the admin attribute, or ' +
  'ask the operators for a policy package that allows it';

/** What to do about the conflicts whose cause the server's answer tells. */
function conflictHint(failure: RucioFailure): string | undefined {
  const cls = failure.exceptionClass;
  if (cls === 'UnsupportedOperation' && /\bis closed\b/.test(failure.exceptionMessage ?? '')) {
    return "a closed dataset takes no more files: reopen it ('rucio reopen SCOPE:NAME', by its account or an admin) or upload into another dataset (--dataset)";
  }
  if (cls === 'FileConsistencyMismatch') {
    return 'the catalog holds this DID with other checksums; DIDs are immutable, upload under a new name (e.g. a new run id)';
  }
  return undefined;
}

/** Maps a non-success Rucio answer to the typed error a caller can act on. */
export function rucioErrorFor(failure: RucioFailure, context: { registersReplicas?: boolean } = {}): RucioError {
  const cls = failure.exceptionClass;
  const status = failure.status ?? 0;
  if (cls !== undefined && notFoundClasses.has(cls)) return new RucioNotFoundError(failure);
  if (cls === 'AccessDenied') {
    return new RucioAccessDeniedError(
      failure,
      context.registersReplicas === true ? genericPolicyHint : 'the account lacks the permission; ask the Rucio operators',
    );
  }
  if ((cls !== undefined && authClasses.has(cls)) || (status === 401 && cls === undefined)) {
    return new RucioAuthenticationError(
      failure,
      'check the account, the credentials (username/password, certificate or token) and the auth host',
    );
  }
  if (cls === 'InsufficientAccountLimit') {
    return new RucioQuotaError(
      failure,
      "the account's limit (quota) on the RSE is zero or used up: see it with 'rucio list-account-limits ACCOUNT' and " +
        "'rucio list-account-usage ACCOUNT'; an admin raises it with 'rucio-admin account set-limits ACCOUNT RSE BYTES', " +
        'or upload to another RSE (--rse)',
    );
  }
  if (cls !== undefined && conflictClasses.has(cls)) return new RucioConflictError(failure, conflictHint(failure));
  if (cls !== undefined && requestClasses.has(cls)) return new RucioRequestError(failure);
  if (status === 404) return new RucioNotFoundError(failure);
  if (status === 409) return new RucioConflictError(failure);
  if (cls === 'ResourceTemporaryUnavailable' || cls === 'ServiceUnavailable' || [502, 503, 504].includes(status)) {
    return new RucioTransientError(failure);
  }
  // A 500 that the HTTP layer does not repeat (the request may have been applied) can pass when the
  // operation is done again from the start, as an upload retry does: retryable, unlike other answers.
  return status >= 500
    ? new RucioApiError(failure, 'the server failed; see its logs', { retryable: true })
    : new RucioApiError(failure);
}

export function isRucioError(error: unknown): error is RucioError {
  return typeof error === 'object' && error !== null && 'failure' in error && error instanceof Error;
}

/** Whether `error` is a Rucio error saying the DID, RSE, scope or account does not exist. */
export function rucioNotFound(error: unknown): boolean {
  return isRucioError(error) && error.code === 'not-found';
}

/** The `ExceptionClass` of a Rucio error, or undefined for anything else. */
export function exceptionClassOf(error: unknown): string | undefined {
  return isRucioError(error) ? error.failure.exceptionClass : undefined;
}
