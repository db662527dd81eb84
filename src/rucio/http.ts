import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { redactUrl } from '../common/redact.js';
import { RucioTransientError, RucioUnavailableError, type RucioFailure } from './errors.js';

/**
 * The one place HTTP requests to Rucio leave the process: persistent connections (undici Agent,
 * keep-alive), per-request timeouts, retries with exponential backoff and full jitter on 502/503/504
 * and connection failures, and a per-endpoint request count. A write that may already have taken
 * effect (reset or timeout after it was sent, 504) is never blindly repeated: the caller's
 * `checkApplied` reads its effect back first.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';

export interface HttpRequest {
  method: HttpMethod;
  /** Absolute URL (origin + path + query). */
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Stats key, e.g. "POST /dids/{scope}/{name}/dids". */
  endpoint: string;
  /** What a failure message says we were doing, and about what. */
  operation: string;
  subject?: string | undefined;
  /** Safe to repeat after any failure (GET, or a write whose repetition is harmless). */
  idempotent: boolean;
  /** For writes: after an uncertain failure, tells whether the write had taken effect. */
  checkApplied?: () => Promise<boolean>;
  dispatcher?: Dispatcher;
  signal?: AbortSignal | undefined;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'] | undefined;
  /** True when the request failed uncertainly and `checkApplied` confirmed its effect. */
  recovered?: boolean;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface RequestStats {
  requests: number;
  byEndpoint: Record<string, number>;
  retries: number;
}

function newStats(): RequestStats {
  return { requests: 0, byEndpoint: {}, retries: 0 };
}

const retryStatuses = new Set([502, 503, 504]);

type FailureKind = 'refused' | 'uncertain' | 'tls' | 'fatal';

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR' && code !== 'ERR_ASSERTION') {
      if (!(code === 'UND_ERR_SOCKET' && (current as { cause?: unknown }).cause !== undefined)) return code;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether the request can have reached the server, from the low-level error. */
export function classifyNetworkError(error: unknown): { kind: FailureKind; code: string } {
  const code = errorCode(error) ?? (error instanceof Error ? error.name : 'unknown');
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'].includes(code)) {
    return { kind: 'refused', code };
  }
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_OSSL/i.test(code)) return { kind: 'tls', code };
  if (
    ['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT', 'UND_ERR_CLOSED'].includes(
      code,
    )
  ) {
    return { kind: 'uncertain', code };
  }
  return { kind: 'fatal', code };
}

export function backoffDelay(attempt: number, policy: RetryPolicy): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export class HttpTransport {
  readonly stats: RequestStats = newStats();

  constructor(
    private readonly defaultDispatcher: Dispatcher,
    private readonly timeoutMs: number,
    private readonly policy: RetryPolicy,
  ) {}

  async request(req: HttpRequest): Promise<HttpResponse> {
    const failure = (extra: Partial<RucioFailure>): RucioFailure => ({
      operation: req.operation,
      subject: req.subject,
      ...extra,
    });
    let lastError: unknown;
    for (let attempt = 0; attempt < this.policy.attempts; attempt++) {
      if (attempt > 0) {
        this.stats.retries++;
        await sleep(backoffDelay(attempt - 1, this.policy), undefined, req.signal ? { signal: req.signal } : undefined);
      }
      this.stats.requests++;
      this.stats.byEndpoint[req.endpoint] = (this.stats.byEndpoint[req.endpoint] ?? 0) + 1;
      let response: Dispatcher.ResponseData;
      try {
        response = await (req.dispatcher ?? this.defaultDispatcher).request({
          origin: new URL(req.url).origin,
          path: req.url.slice(new URL(req.url).origin.length) || '/',
          method: req.method,
          headers: req.headers ?? {},
          body: req.body ?? null,
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
          signal: req.signal ?? null,
        });
      } catch (error) {
        if (req.signal?.aborted === true) throw error;
        lastError = error;
        const { kind, code } = classifyNetworkError(error);
        if (kind === 'tls') {
          throw new RucioUnavailableError(
            failure({ exceptionClass: code }),
            `TLS verification of ${new URL(req.url).origin} failed; set ca_cert (or X509_CERT_DIR) to the CA that signed the server`,
            { cause: error },
          );
        }
        if (kind === 'fatal') {
          throw new RucioUnavailableError(failure({ exceptionClass: code }), `request to ${redactUrl(req.url)} failed`, {
            cause: error,
          });
        }
        if (kind === 'uncertain' && !req.idempotent) {
          const applied = await this.resolveUncertain(req, error);
          if (applied) return { status: 200, headers: {}, body: undefined, recovered: true };
        }
        continue;
      }
      if (retryStatuses.has(response.statusCode) && attempt + 1 < this.policy.attempts) {
        await response.body.dump();
        if (response.statusCode === 504 && !req.idempotent) {
          const applied = await this.resolveUncertain(req, undefined);
          if (applied) return { status: 200, headers: {}, body: undefined, recovered: true };
        }
        continue;
      }
      return { status: response.statusCode, headers: response.headers, body: response.body };
    }
    const { kind, code } = classifyNetworkError(lastError);
    if (kind === 'refused') {
      throw new RucioUnavailableError(
        failure({ exceptionClass: code }),
        `cannot reach ${new URL(req.url).origin} after ${this.policy.attempts} attempts; check rucio_host/auth_host and that the server is up`,
        { cause: lastError },
      );
    }
    throw new RucioTransientError(
      failure({ exceptionClass: code }),
      `the connection failed ${this.policy.attempts} times; try again later`,
      { cause: lastError },
    );
  }

  /** A write failed after it may have reached the server: read its effect back instead of repeating it. */
  private async resolveUncertain(req: HttpRequest, cause: unknown): Promise<boolean> {
    if (!req.checkApplied) {
      throw new RucioTransientError(
        { operation: req.operation, subject: req.subject, exceptionClass: classifyNetworkError(cause).code },
        'the request may or may not have been applied and cannot be checked; verify on the server before retrying',
        { cause },
      );
    }
    return req.checkApplied();
  }
}
