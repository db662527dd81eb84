import { z } from 'zod';
import { definedProps } from '../common/defined.js';
import { TokenManager } from './auth.js';
import { CatalogClock } from './catalog-clock.js';
import type { RucioConfig } from './config.js';
import { failureFrom, RucioApiError, RucioTransientError, rucioErrorFor } from './errors.js';
import { HttpTransport, type HttpMethod, type HttpResponse, type RequestStats, type RetryPolicy } from './http.js';
import { parseJsonLines } from './json-stream.js';
import { loginCertificate, TlsConnections } from './tls.js';

export interface RucioClientOptions {
  userAgent?: string;
  retry?: Partial<RetryPolicy>;
  /** Environment for bearer-token discovery (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Max connections per origin (default 32). */
  connections?: number;
}

/** One REST call: what the base sends, and how a failure is named and classified. */
export interface CallRequest {
  method: HttpMethod;
  path: string;
  /** Stats key: method + templated path. */
  endpoint: string;
  operation: string;
  subject?: string | undefined;
  json?: unknown;
  accept?: string;
  idempotent?: boolean;
  checkApplied?: () => Promise<boolean>;
  /** Statuses that count as success besides 2xx. */
  allow?: number[];
  registersReplicas?: boolean;
  signal?: AbortSignal | undefined;
}

/** A value as one URL path segment. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

/**
 * What every Rucio REST call shares: the token (renewed after a 401), the account and VO headers,
 * keep-alive connections, retries, and the mapping of failures to typed errors naming the operation
 * and the DID. The calls themselves are grouped by resource in the classes built on this one, as in
 * Rucio's own client (BaseClient, RSEClient, DIDClient, ReplicaClient); RucioClient is the last.
 */
export class RucioRest {
  readonly config: RucioConfig;
  readonly auth: TokenManager;
  /** The catalog server's clock, from the Date headers of its answers (the poll look-back). */
  readonly catalogClock = new CatalogClock();
  protected readonly connections: TlsConnections;
  private readonly transport: HttpTransport;
  private readonly userAgent: string;

  constructor(config: RucioConfig, options: RucioClientOptions = {}) {
    this.config = config;
    this.userAgent = options.userAgent ?? 'wavefier-rucio/0.1';
    const retry: RetryPolicy = {
      attempts: options.retry?.attempts ?? config.retries,
      baseDelayMs: options.retry?.baseDelayMs ?? 200,
      maxDelayMs: options.retry?.maxDelayMs ?? 5_000,
    };
    this.connections = new TlsConnections(config, options.connections ?? 32);
    this.transport = new HttpTransport(this.connections.agent, config.timeoutMs, retry);
    const certificate = loginCertificate(config);
    this.auth = new TokenManager(config, {
      transport: this.transport,
      authDispatcher: () => this.connections.loginDispatcher(certificate),
      userAgent: this.userAgent,
      env: options.env ?? process.env,
    });
  }

  /** Catalog requests made so far, per endpoint (auth included), and retries. */
  protected get requestStats(): RequestStats {
    return { ...this.transport.stats, byEndpoint: { ...this.transport.stats.byEndpoint } };
  }

  protected async call(req: CallRequest): Promise<HttpResponse> {
    const dispatcher = await this.connections.dispatcher();
    let token = await this.auth.token();
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {
        'X-Rucio-Auth-Token': token,
        'X-Rucio-Account': this.config.account,
        'X-Rucio-VO': this.config.vo,
        'User-Agent': this.userAgent,
        Accept: req.accept ?? '*/*',
      };
      let body: string | undefined;
      if (req.json !== undefined) {
        body = JSON.stringify(req.json);
        headers['Content-Type'] = 'application/json';
      }
      const sentAt = Date.now();
      const response = await this.transport.request({
        method: req.method,
        url: `${this.config.rucioHost}${req.path}`,
        headers,
        ...definedProps({ body }),
        endpoint: req.endpoint,
        operation: req.operation,
        subject: req.subject,
        idempotent: req.idempotent ?? req.method === 'GET',
        ...definedProps({ checkApplied: req.checkApplied }),
        dispatcher,
        signal: req.signal,
      });
      this.catalogClock.observe(sentAt, Date.now(), response.headers.date);
      if (response.recovered === true) return response;
      if ((response.status >= 200 && response.status < 300) || req.allow?.includes(response.status) === true) return response;
      const text = response.body ? await response.body.text() : '';
      const failure = failureFrom(req.operation, req.subject, response.status, response.headers, text);
      // An expired or revoked token: 401 CannotAuthenticate, or 500 with the same class (rucio#5986).
      const expired =
        (response.status === 401 && failure.exceptionClass !== 'AccessDenied') ||
        (response.status === 500 && failure.exceptionClass === 'CannotAuthenticate');
      if (expired && attempt === 0) {
        token = await this.auth.invalidate(token);
        continue;
      }
      throw rucioErrorFor(failure, { registersReplicas: req.registersReplicas === true });
    }
  }

  protected async json(req: CallRequest): Promise<unknown> {
    const response = await this.call(req);
    const text = response.body ? await response.body.text() : '';
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new RucioApiError(
        { operation: req.operation, subject: req.subject, status: response.status },
        `the server answered non-JSON (${text.slice(0, 80)}); is rucio_host a Rucio server?`,
        { cause: error },
      );
    }
  }

  protected async *lines(req: CallRequest): AsyncGenerator {
    const response = await this.call({ ...req, accept: req.accept ?? 'application/x-json-stream' });
    if (response.body === undefined) return;
    try {
      yield* parseJsonLines(response.body);
    } catch (error) {
      const failure = { operation: req.operation, subject: req.subject, status: response.status };
      if (error instanceof SyntaxError) {
        throw new RucioApiError(failure, `a line of the x-json-stream answer is not JSON (${error.message})`, { cause: error });
      }
      throw new RucioTransientError(failure, 'the connection broke while the list was streaming; list again', { cause: error });
    }
  }

  protected async done(req: CallRequest): Promise<number> {
    const response = await this.call(req);
    await response.body?.dump();
    return response.status;
  }

  /** `GET /ping` (unauthenticated): the server version. */
  async ping(): Promise<{ version: string }> {
    const dispatcher = await this.connections.dispatcher();
    const response = await this.transport.request({
      method: 'GET',
      url: `${this.config.rucioHost}/ping`,
      headers: { 'User-Agent': this.userAgent, Accept: 'application/json' },
      endpoint: 'GET /ping',
      operation: `ping ${this.config.rucioHost}`,
      idempotent: true,
      dispatcher,
    });
    const text = response.body ? await response.body.text() : '';
    if (response.status !== 200) {
      throw rucioErrorFor(failureFrom(`ping ${this.config.rucioHost}`, undefined, response.status, response.headers, text));
    }
    try {
      const data = z.object({ version: z.string() }).parse(JSON.parse(text));
      return { version: data.version };
    } catch (error) {
      throw new RucioApiError(
        { operation: `ping ${this.config.rucioHost}`, status: response.status },
        'the answer is not a Rucio ping ({"version": ...}); check rucio_host',
        { cause: error },
      );
    }
  }

  /** `GET /accounts/whoami`, following the server's 303 to `/accounts/<account>`. */
  async whoami(): Promise<{ account: string; accountType?: string; status?: string; email?: string | null }> {
    const operation = `whoami for account ${this.config.account}`;
    const first = await this.call({ method: 'GET', path: '/accounts/whoami', endpoint: 'GET /accounts/whoami', operation, allow: [301, 302, 303, 307] });
    let data: unknown;
    if (first.status >= 300 && first.status < 400) {
      await first.body?.dump();
      const locationHeader = first.headers.location;
      const location = Array.isArray(locationHeader) ? locationHeader[0] : locationHeader;
      if (location === undefined) throw new RucioApiError({ operation, status: first.status }, 'redirect without Location');
      const target = new URL(location, `${this.config.rucioHost}/accounts/whoami`).href;
      // rucio_host may carry a path prefix (https://host/rucio): keep the path relative to it.
      const path = target.startsWith(`${this.config.rucioHost}/`) ? target.slice(this.config.rucioHost.length) : new URL(target).pathname;
      data = await this.json({
        method: 'GET',
        path,
        endpoint: 'GET /accounts/{account}',
        operation,
      });
    } else {
      data = JSON.parse(first.body ? await first.body.text() : '{}') as unknown;
    }
    const account = z
      .object({ account: z.string(), account_type: z.string().nullish(), status: z.string().nullish(), email: z.string().nullish() })
      .parse(data);
    return {
      account: account.account,
      ...(account.account_type ? { accountType: account.account_type } : {}),
      ...(account.status ? { status: account.status } : {}),
      email: account.email ?? null,
    };
  }
}
