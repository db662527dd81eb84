import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { ConfigError } from '../common/errors.js';
import { failureFrom, TokenManager } from './auth.js';
import type { RucioConfig } from './config.js';
import { RucioApiError, RucioTransientError, rucioErrorFor } from './errors.js';
import { createAgent, HttpTransport, type HttpMethod, type HttpResponse, type RequestStats, type RetryPolicy, type TlsOptions } from './http.js';
import { parseJsonLines } from './json-stream.js';
import { replicaFromJson, replicasFromMetalink, rucioTimestamp, type ReplicaRecord } from './replicas.js';
import { rseSettingsSchema, type RseInfo } from './rse.js';
import { StorageRegistry } from './storage-registry.js';

export interface Did {
  scope: string;
  name: string;
}

/** A file to attach; with `rse` on the call, bytes and adler32 are required (the server registers the replica). */
export interface FileDid extends Did {
  bytes?: number;
  adler32?: string;
  md5?: string;
  meta?: Record<string, unknown>;
}

export interface DidInfo {
  scope: string;
  name: string;
  type: string;
  open?: boolean | undefined;
  length?: number | null | undefined;
  bytes?: number | null | undefined;
  account?: string | undefined;
}

export interface ContentEntry {
  scope: string;
  name: string;
  type: string;
  bytes?: number | null | undefined;
  adler32?: string | null | undefined;
  md5?: string | null | undefined;
}

export interface ReplicaQuery {
  dids: Did[];
  /** Only replicas updated at or after this time (epoch ms when a number). Second resolution: keep an overlap. */
  updatedAfter?: Date | number;
  rseExpression?: string;
  /** Include replicas that are not AVAILABLE (COPYING, BAD, ...). */
  allStates?: boolean;
  schemes?: string[];
  /** Ask for metalink4 XML instead of the JSON stream (what `rucio download` does). */
  metalink?: boolean;
}

export interface RuleRequest {
  dids: Did[];
  copies: number;
  rseExpression: string;
  lifetime?: number | null;
  grouping?: 'ALL' | 'DATASET' | 'NONE';
  account?: string;
  activity?: string;
  asynchronous?: boolean;
}

export interface ReplicaFile extends FileDid {
  bytes: number;
  adler32: string;
  state?: 'A' | 'C' | 'U' | 'B' | 'D' | 'T';
  pfn?: string;
}

export interface RucioClientOptions {
  userAgent?: string;
  retry?: Partial<RetryPolicy>;
  /** Environment for bearer-token discovery (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Max connections per origin (default 32). */
  connections?: number;
}

export interface ClientStats extends RequestStats {
  /** Storage operations by protocol and verb, e.g. "s3 PUT". */
  storage: Record<string, number>;
}

const didInfoSchema = z.looseObject({
  scope: z.string(),
  name: z.string(),
  type: z.string().optional(),
  did_type: z.string().optional(),
  open: z.boolean().nullish(),
  length: z.number().nullish(),
  bytes: z.number().nullish(),
  account: z.string().nullish(),
});

const contentSchema = z.object({
  scope: z.string(),
  name: z.string(),
  type: z.string().optional(),
  did_type: z.string().optional(),
  bytes: z.number().nullish(),
  adler32: z.string().nullish(),
  md5: z.string().nullish(),
});

function seg(value: string): string {
  return encodeURIComponent(value);
}

function didPath(scope: string, name: string): string {
  return `${seg(scope)}/${seg(name)}`;
}

function normaliseType(type: string | undefined): string {
  return (type ?? 'UNKNOWN').replace(/^DIDType\./, '').toUpperCase();
}

interface CallRequest {
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

/**
 * The Rucio REST client: one per process (or per worker), holding the token, the keep-alive
 * connections, RSE info and storage clients, so that after warm-up an upload costs one catalog
 * call. Every method maps failures to typed errors naming the operation and the DID.
 */
export class RucioClient {
  readonly config: RucioConfig;
  private readonly transport: HttpTransport;
  private readonly apiAgent: Dispatcher;
  private authAgent: Dispatcher | undefined;
  private readonly extraAgents: Dispatcher[] = [];
  readonly auth: TokenManager;
  private readonly rseCache = new Map<string, Promise<RseInfo>>();
  private readonly userAgent: string;
  private readonly storageStats: Record<string, number> = {};
  readonly storage: StorageRegistry;
  private tlsMaterial: Promise<TlsOptions> | undefined;
  private closing: Promise<void> | undefined;

  constructor(config: RucioConfig, options: RucioClientOptions = {}) {
    this.config = config;
    this.userAgent = options.userAgent ?? 'wavefier-rucio/0.1';
    const retry: RetryPolicy = {
      attempts: options.retry?.attempts ?? config.retries,
      baseDelayMs: options.retry?.baseDelayMs ?? 200,
      maxDelayMs: options.retry?.maxDelayMs ?? 5_000,
    };
    // The API agent verifies the server; TLS material is loaded lazily but the agent is created
    // per connection with the same options, so CA files are read before the first request.
    this.apiAgent = createAgent({}, options.connections ?? 32);
    this.transport = new HttpTransport(this.apiAgent, config.timeoutMs, retry);
    this.auth = new TokenManager(config, {
      transport: this.transport,
      authDispatcher: () => this.authDispatcher(),
      userAgent: this.userAgent,
      env: options.env ?? process.env,
    });
    this.storage = new StorageRegistry(this, this.storageStats);
  }

  /** Requests made so far: catalog calls per endpoint (incl. auth), retries, and storage operations. */
  get stats(): ClientStats {
    return { ...this.transport.stats, byEndpoint: { ...this.transport.stats.byEndpoint }, storage: { ...this.storageStats } };
  }

  /** Loads the CA bundle/directory and client certificate once. */
  tls(): Promise<TlsOptions> {
    this.tlsMaterial ??= loadTls(this.config);
    return this.tlsMaterial;
  }

  private apiDispatcherPromise: Promise<Dispatcher> | undefined;

  /** The dispatcher for API calls: with the custom CA when configured. */
  private apiDispatcher(): Promise<Dispatcher> {
    this.apiDispatcherPromise ??= this.tls().then((tls) => {
      if (tls.ca === undefined && tls.rejectUnauthorized !== false) return this.apiAgent;
      const agent = createAgent({ ...(tls.ca ? { ca: tls.ca } : {}), rejectUnauthorized: tls.rejectUnauthorized ?? true });
      this.extraAgents.push(agent);
      return agent;
    });
    return this.apiDispatcherPromise;
  }

  /**
   * For x509: a dispatcher presenting the client certificate to the auth host. Built anew for each
   * login from the files as they are now, so a renewed proxy is picked up and never presented on an
   * old TLS session (rucio#433). Logins are rare (once per token lifetime).
   */
  private async authDispatcher(): Promise<Dispatcher | undefined> {
    const certFile = this.config.authType === 'x509' ? this.config.clientCert : this.config.authType === 'x509_proxy' ? this.config.clientProxy : undefined;
    const keyFile = this.config.authType === 'x509' ? this.config.clientKey : this.config.authType === 'x509_proxy' ? this.config.clientProxy : undefined;
    if (certFile === undefined || keyFile === undefined) return this.apiDispatcher();
    const tls = await this.tls();
    const agent = createAgent(
      { ...tls, cert: await readCredential(certFile, 'client certificate'), key: await readCredential(keyFile, 'client key') },
      2,
    );
    const previous = this.authAgent;
    this.authAgent = agent;
    if (previous !== undefined) await previous.close().catch(() => undefined);
    return agent;
  }

  /** A dispatcher for storage URLs (presigned https), honouring the same CA settings. */
  storageDispatcher(): Promise<Dispatcher> {
    return this.apiDispatcher();
  }

  private async call(req: CallRequest): Promise<HttpResponse> {
    const dispatcher = await this.apiDispatcher();
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
      const response = await this.transport.request({
        method: req.method,
        url: `${this.config.rucioHost}${req.path}`,
        headers,
        ...(body === undefined ? {} : { body }),
        endpoint: req.endpoint,
        operation: req.operation,
        subject: req.subject,
        idempotent: req.idempotent ?? req.method === 'GET',
        ...(req.checkApplied ? { checkApplied: req.checkApplied } : {}),
        dispatcher,
        signal: req.signal,
      });
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

  private async json(req: CallRequest): Promise<unknown> {
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

  private async *lines(req: CallRequest): AsyncGenerator {
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

  private async done(req: CallRequest): Promise<number> {
    const response = await this.call(req);
    await response.body?.dump();
    return response.status;
  }

  /** `GET /ping` (unauthenticated): the server version. */
  async ping(): Promise<{ version: string }> {
    const dispatcher = await this.apiDispatcher();
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

  /** RSE settings, protocols and attributes; fetched once per client (2 calls in parallel) and cached. */
  rse(name: string): Promise<RseInfo> {
    let cached = this.rseCache.get(name);
    if (cached === undefined) {
      cached = this.fetchRse(name);
      this.rseCache.set(name, cached);
      cached.catch(() => this.rseCache.delete(name));
    }
    return cached;
  }

  private async fetchRse(name: string): Promise<RseInfo> {
    const operation = 'get RSE';
    const [settings, attributes] = await Promise.all([
      this.json({ method: 'GET', path: `/rses/${seg(name)}`, endpoint: 'GET /rses/{rse}', operation, subject: name }),
      this.json({ method: 'GET', path: `/rses/${seg(name)}/attr/`, endpoint: 'GET /rses/{rse}/attr/', operation, subject: name }),
    ]);
    const parsed = rseSettingsSchema.safeParse(settings);
    if (!parsed.success) {
      throw new RucioApiError({ operation, subject: name }, `unexpected RSE description: ${z.prettifyError(parsed.error)}`);
    }
    const attrs = z.record(z.string(), z.unknown()).catch({}).parse(attributes);
    const s = parsed.data;
    const signAttr = attrs.sign_url;
    return {
      name: s.rse,
      id: s.id ?? undefined,
      deterministic: s.deterministic,
      lfn2pfnAlgorithm: s.lfn2pfn_algorithm ?? (typeof attrs.lfn2pfn_algorithm === 'string' ? attrs.lfn2pfn_algorithm : 'hash'),
      availabilityWrite: s.availability_write ?? true,
      availabilityRead: s.availability_read ?? true,
      signUrl: s.sign_url ?? (typeof signAttr === 'string' && signAttr !== '' ? signAttr : undefined),
      verifyChecksum: s.verify_checksum ?? true,
      protocols: s.protocols,
      attributes: attrs,
    };
  }

  /** Server-side lfn2pfn for algorithms this client does not compute: `GET /rses/{rse}/lfns2pfns`. */
  async lfns2pfns(rse: string, dids: Did[], options: { scheme?: string; operation?: string } = {}): Promise<Record<string, string>> {
    const query = new URLSearchParams();
    for (const d of dids) query.append('lfn', `${d.scope}:${d.name}`);
    if (options.scheme) query.set('scheme', options.scheme);
    if (options.operation) query.set('operation', options.operation);
    const data = await this.json({
      method: 'GET',
      path: `/rses/${seg(rse)}/lfns2pfns?${query.toString()}`,
      endpoint: 'GET /rses/{rse}/lfns2pfns',
      operation: 'resolve PFNs on RSE',
      subject: rse,
    });
    return z.record(z.string(), z.string()).parse(data);
  }

  /** `POST /dids/{scope}/{name}` type DATASET. An existing dataset is fine: resolves `{created: false}`. */
  async addDataset(
    scope: string,
    name: string,
    opts: { meta?: Record<string, unknown>; rules?: RuleRequest[]; lifetime?: number; signal?: AbortSignal } = {},
  ): Promise<{ created: boolean }> {
    const subject = `${scope}:${name}`;
    const body: Record<string, unknown> = { type: 'DATASET' };
    if (opts.meta) body.meta = opts.meta;
    if (opts.lifetime !== undefined) body.lifetime = opts.lifetime;
    if (opts.rules) body.rules = opts.rules.map((r) => ruleBody(r, this.config.account));
    const status = await this.done({
      method: 'POST',
      path: `/dids/${didPath(scope, name)}`,
      endpoint: 'POST /dids/{scope}/{name}',
      operation: 'add dataset',
      subject,
      json: body,
      allow: [409],
      checkApplied: () => this.exists(scope, name),
      signal: opts.signal,
    });
    return { created: status !== 409 };
  }

  private async exists(scope: string, name: string): Promise<boolean> {
    try {
      await this.getDid(scope, name);
      return true;
    } catch (error) {
      if (rucioNotFound(error)) return false;
      throw error;
    }
  }

  /** `GET /dids/{scope}/{name}`: type, open, length (number of files for a dataset). */
  async getDid(scope: string, name: string, opts: { dynamic?: boolean; signal?: AbortSignal } = {}): Promise<DidInfo> {
    const data = await this.json({
      method: 'GET',
      path: `/dids/${didPath(scope, name)}${opts.dynamic === true ? '?dynamic_depth=FILE' : ''}`,
      endpoint: 'GET /dids/{scope}/{name}',
      operation: 'get DID',
      subject: `${scope}:${name}`,
      signal: opts.signal,
    });
    const d = didInfoSchema.parse(data);
    return {
      scope: d.scope,
      name: d.name,
      type: normaliseType(d.type ?? d.did_type),
      open: d.open ?? undefined,
      length: d.length,
      bytes: d.bytes,
      account: d.account ?? undefined,
    };
  }

  /** `GET /dids/{scope}/{name}/meta` (DID_COLUMN plugin): checksums, size, guid, timestamps. */
  async getMetadata(scope: string, name: string, opts: { signal?: AbortSignal } = {}): Promise<Record<string, unknown>> {
    const data = await this.json({
      method: 'GET',
      path: `/dids/${didPath(scope, name)}/meta?plugin=DID_COLUMN`,
      endpoint: 'GET /dids/{scope}/{name}/meta',
      operation: 'get DID metadata',
      subject: `${scope}:${name}`,
      signal: opts.signal,
    });
    return z.record(z.string(), z.unknown()).parse(data);
  }

  /** `POST /dids/{scope}/{name}/meta/{key}`: sets one metadata value. */
  async setMetadata(scope: string, name: string, key: string, value: unknown): Promise<void> {
    await this.done({
      method: 'POST',
      path: `/dids/${didPath(scope, name)}/meta/${seg(key)}`,
      endpoint: 'POST /dids/{scope}/{name}/meta/{key}',
      operation: `set metadata ${key}`,
      subject: `${scope}:${name}`,
      json: { value },
      idempotent: true,
    });
  }

  /** `PUT /dids/{scope}/{name}/status {"open": false}`: no more files can be attached. */
  async closeDataset(scope: string, name: string): Promise<void> {
    await this.done({
      method: 'PUT',
      path: `/dids/${didPath(scope, name)}/status`,
      endpoint: 'PUT /dids/{scope}/{name}/status',
      operation: 'close dataset',
      subject: `${scope}:${name}`,
      json: { open: false },
      idempotent: true,
    });
  }

  /**
   * `POST /dids/{scope}/{dataset}/dids`: attaches files. With `rse`, the server also registers each
   * file and its replica on that RSE as AVAILABLE, in the same transaction (the Tier-0 path): the
   * one catalog call per uploaded chunk. After an uncertain failure the attachment is read back.
   */
  async attachDids(scope: string, dataset: string, dids: FileDid[], opts: { rse?: string; signal?: AbortSignal } = {}): Promise<void> {
    const body: Record<string, unknown> = { dids };
    if (opts.rse !== undefined) body.rse = opts.rse;
    await this.done({
      method: 'POST',
      path: `/dids/${didPath(scope, dataset)}/dids`,
      endpoint: 'POST /dids/{scope}/{name}/dids',
      operation: opts.rse === undefined ? 'attach files to dataset' : `register on ${opts.rse} and attach to dataset`,
      subject: `${scope}:${dataset}${dids.length === 1 && dids[0] ? ` <- ${dids[0].scope}:${dids[0].name}` : ` <- ${dids.length} files`}`,
      json: body,
      registersReplicas: opts.rse !== undefined,
      checkApplied: async () => {
        for (const d of dids) {
          if (!(await this.isAttached(d, { scope, name: dataset }))) return false;
        }
        return true;
      },
      signal: opts.signal,
    });
  }

  /** Whether `child` is attached to `parent`: `GET /dids/{scope}/{name}/parents` (cost independent of dataset size). */
  async isAttached(child: Did, parent: Did): Promise<boolean> {
    try {
      for await (const p of this.listParents(child.scope, child.name)) {
        if (p.scope === parent.scope && p.name === parent.name) return true;
      }
      return false;
    } catch (error) {
      if (rucioNotFound(error)) return false;
      throw error;
    }
  }

  async *listParents(scope: string, name: string): AsyncGenerator<Did & { type: string }> {
    for await (const line of this.lines({
      method: 'GET',
      path: `/dids/${didPath(scope, name)}/parents`,
      endpoint: 'GET /dids/{scope}/{name}/parents',
      operation: 'list parents',
      subject: `${scope}:${name}`,
    })) {
      const p = contentSchema.parse(line);
      yield { scope: p.scope, name: p.name, type: normaliseType(p.type ?? p.did_type) };
    }
  }

  /** `GET /dids/{scope}/{name}/dids`: the dataset's content, streamed. */
  async *listContent(scope: string, name: string, opts: { signal?: AbortSignal } = {}): AsyncGenerator<ContentEntry> {
    for await (const line of this.lines({
      method: 'GET',
      path: `/dids/${didPath(scope, name)}/dids`,
      endpoint: 'GET /dids/{scope}/{name}/dids',
      operation: 'list dataset content',
      subject: `${scope}:${name}`,
      signal: opts.signal,
    })) {
      const c = contentSchema.parse(line);
      yield { scope: c.scope, name: c.name, type: normaliseType(c.type ?? c.did_type), bytes: c.bytes, adler32: c.adler32, md5: c.md5 };
    }
  }

  /** `GET /dids/{scope}/dids/search` with the flat filters (name wildcard, type, created_after). */
  async *searchDids(
    scope: string,
    query: { name?: string; type?: 'all' | 'collection' | 'dataset' | 'container' | 'file'; createdAfter?: Date; long?: boolean; limit?: number } = {},
  ): AsyncGenerator<{ scope: string; name: string; type?: string; bytes?: number | null | undefined; length?: number | null | undefined }> {
    const params = new URLSearchParams();
    params.set('type', query.type ?? 'all');
    if (query.name !== undefined) params.set('name', query.name);
    if (query.createdAfter !== undefined) params.set('created_after', rucioTimestamp(query.createdAfter));
    if (query.long === true) params.set('long', 'True');
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    for await (const line of this.lines({
      method: 'GET',
      path: `/dids/${seg(scope)}/dids/search?${params.toString()}`,
      endpoint: 'GET /dids/{scope}/dids/search',
      operation: 'search DIDs',
      subject: scope,
    })) {
      if (typeof line === 'string') {
        yield { scope, name: line };
        continue;
      }
      const d = z
        .object({ scope: z.string(), name: z.string(), did_type: z.string().nullish(), bytes: z.number().nullish(), length: z.number().nullish() })
        .parse(line);
      yield { scope: d.scope, name: d.name, type: normaliseType(d.did_type ?? undefined), bytes: d.bytes, length: d.length };
    }
  }

  /**
   * `POST /replicas/list`: files (datasets are expanded by the server) with PFNs and checksums, in one
   * call. `updatedAfter` makes a poll cost O(new files); the JSON stream is parsed line by line.
   */
  async *listReplicas(q: ReplicaQuery, opts: { signal?: AbortSignal } = {}): AsyncGenerator<ReplicaRecord> {
    const body: Record<string, unknown> = {
      dids: q.dids.map((d) => ({ scope: d.scope, name: d.name })),
      all_states: q.allStates ?? false,
    };
    if (q.updatedAfter !== undefined) body.updated_after = rucioTimestamp(q.updatedAfter);
    if (q.rseExpression !== undefined) body.rse_expression = q.rseExpression;
    if (q.schemes !== undefined) body.schemes = q.schemes;
    const subject = q.dids.map((d) => `${d.scope}:${d.name}`).join(',');
    const base: CallRequest = {
      method: 'POST',
      path: '/replicas/list',
      endpoint: 'POST /replicas/list',
      operation: 'list replicas',
      subject,
      json: body,
      idempotent: true,
      signal: opts.signal,
    };
    if (q.metalink === true) {
      const response = await this.call({ ...base, accept: 'application/metalink4+xml' });
      const xml = response.body ? await response.body.text() : '';
      yield* replicasFromMetalink(xml);
      return;
    }
    for await (const line of this.lines(base)) yield replicaFromJson(line);
  }

  /** `POST /replicas`: registers file replicas (state A by default; C for the official client's sequence). */
  async addReplicas(rse: string, files: ReplicaFile[], opts: { ignoreAvailability?: boolean } = {}): Promise<void> {
    await this.done({
      method: 'POST',
      path: '/replicas',
      endpoint: 'POST /replicas',
      operation: `register replicas on ${rse}`,
      subject: files.length === 1 && files[0] ? `${files[0].scope}:${files[0].name}` : `${files.length} files`,
      json: { rse, files, ...(opts.ignoreAvailability === true ? { ignore_availability: true } : {}) },
      registersReplicas: true,
      checkApplied: async () => {
        for (const f of files) if (!(await this.exists(f.scope, f.name))) return false;
        return true;
      },
    });
  }

  /** `PUT /replicas`: changes replica states, e.g. COPYING → AVAILABLE. */
  async updateReplicas(rse: string, files: (Did & { state: string } & Partial<ReplicaFile>)[]): Promise<void> {
    await this.done({
      method: 'PUT',
      path: '/replicas',
      endpoint: 'PUT /replicas',
      operation: `update replica states on ${rse}`,
      subject: files.length === 1 && files[0] ? `${files[0].scope}:${files[0].name}` : `${files.length} files`,
      json: { rse, files },
      idempotent: true,
      registersReplicas: true,
    });
  }

  /** `POST /rules/`: returns the new rule ids. */
  async addRule(rule: RuleRequest): Promise<string[]> {
    const data = await this.json({
      method: 'POST',
      path: '/rules/',
      endpoint: 'POST /rules/',
      operation: `add rule to ${rule.rseExpression}`,
      subject: rule.dids.map((d) => `${d.scope}:${d.name}`).join(','),
      json: ruleBody(rule, this.config.account),
      idempotent: false,
    });
    return z.array(z.string()).parse(data);
  }

  /** `GET /credentials/signurl`: a presigned storage URL for the RSE's `sign_url` service. */
  async signUrl(req: { rse: string; url: string; operation: 'read' | 'write' | 'delete'; service?: string; lifetime?: number }): Promise<string> {
    const params = new URLSearchParams({
      rse: req.rse,
      svc: req.service ?? 's3',
      op: req.operation,
      url: req.url,
      lifetime: String(req.lifetime ?? 600),
    });
    const response = await this.call({
      method: 'GET',
      path: `/credentials/signurl?${params.toString()}`,
      endpoint: 'GET /credentials/signurl',
      operation: `sign ${req.operation} URL on ${req.rse}`,
      subject: req.url,
    });
    const text = (response.body ? await response.body.text() : '').trim();
    if (!/^https?:\/\//.test(text)) {
      throw new RucioApiError(
        { operation: `sign ${req.operation} URL on ${req.rse}`, status: response.status },
        'the server did not return a URL; check the RSE sign_url attribute and the server credentials',
      );
    }
    return text;
  }

  /** Errors met while closing (close() itself never throws, like BullMQ's Worker.close()). */
  readonly closeErrors: unknown[] = [];

  /** Closes connections and storage clients; every step runs even if one fails. Memoised. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const results = await Promise.allSettled([
        this.storage.close(),
        this.apiAgent.close(),
        ...this.extraAgents.map((a) => a.close()),
        ...(this.authAgent ? [this.authAgent.close()] : []),
      ]);
      for (const r of results) if (r.status === 'rejected') this.closeErrors.push(r.reason);
    })();
    return this.closing;
  }
}

function ruleBody(rule: RuleRequest, account: string): Record<string, unknown> {
  return {
    dids: rule.dids.map((d) => ({ scope: d.scope, name: d.name })),
    copies: rule.copies,
    rse_expression: rule.rseExpression,
    lifetime: rule.lifetime ?? null,
    grouping: rule.grouping ?? 'DATASET',
    account: rule.account ?? account,
    ...(rule.activity ? { activity: rule.activity } : {}),
    ...(rule.asynchronous !== undefined ? { asynchronous: rule.asynchronous } : {}),
  };
}

export function rucioNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'failure' in error && (error as { code?: string }).code === 'not-found';
}

async function loadTls(config: RucioConfig): Promise<TlsOptions> {
  const tls: TlsOptions = {};
  if (config.insecure) tls.rejectUnauthorized = false;
  if (config.caCert !== undefined) tls.ca = await readCa(config.caCert);
  return tls;
}

async function readCredential(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; check the path and its permissions`);
  }
}

/** A CA bundle file, or a directory of PEM files (X509_CERT_DIR, hashed names included). */
async function readCa(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new ConfigError(`the CA certificate path ${path} (ca_cert / X509_CERT_DIR) does not exist; fix it or unset it`);
  }
  if (info.isFile()) return [await readCredential(path, 'CA bundle')];
  const names = (await readdir(path)).filter((n) => /\.(pem|crt|\d+)$/.test(n)).sort();
  const pems: string[] = [];
  for (const name of names) {
    const text = await readFile(join(path, name), 'utf8').catch(() => '');
    if (text.includes('-----BEGIN CERTIFICATE-----')) pems.push(text);
  }
  if (pems.length === 0) throw new ConfigError(`the CA directory ${path} holds no PEM certificates (*.pem, *.crt, *.0)`);
  return pems;
}
