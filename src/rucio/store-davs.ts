import { XMLParser } from 'fast-xml-parser';
import type { Dispatcher } from 'undici';
import { sameAdler32 } from '../common/checksum.js';
import { redactUrl } from '../common/redact.js';
import {
  isTransientNetworkCode,
  ObjectExistsError,
  ObjectNotFoundError,
  StorageAccessError,
  StorageError,
  StorageTransientError,
  type ObjectStore,
  type PutOptions,
  type StoreCallOptions,
} from './object-store.js';
import { describePresented, type BearerToken, type StorageCertificate } from './storage-credentials.js';
import { clientCertificateRefusal, isUntrustedServer, readTlsAlert } from './store-davs-tls.js';
import type { TlsOptions } from './tls.js';

export interface DavStoreOptions {
  /** The RSE protocol's scheme: `davs`/`https` (WebDAV over TLS) or `dav`/`http`. */
  scheme: 'davs' | 'https' | 'dav' | 'http';
  /** The pool for the next request; it presents the client certificate (renewed when its file changes). */
  dispatcher: () => Promise<Dispatcher>;
  /** The protocol prefix (a path): collections at or above it are never removed. */
  prefix: string;
  /** The client certificate the pool presents, if any (for messages). */
  certificate?: StorageCertificate | undefined;
  /** The bearer token sent as `Authorization: Bearer`, if any. */
  bearer?: BearerToken | undefined;
  /** Which CAs verify the storage's certificate, for messages ("the system CA store", a path). */
  trust: string;
  /** The TLS material of the pool, to read a TLS alert the pool's client lost. */
  tls: () => Promise<TlsOptions>;
  /**
   * Create missing parent collections (MKCOL) before the first PUT into them. Default false: rely
   * on the server creating them (dCache, EOS, StoRM do) until it answers a PUT with 409 Conflict,
   * as Apache's mod_dav does; from then on this store creates them first.
   */
  createParents?: boolean;
  timeoutMs?: number;
  userAgent?: string;
}

type Operation = 'put' | 'get' | 'stat' | 'delete' | 'mkcol' | 'list';

interface SendInit {
  body?: Buffer | string;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

const propfindBody =
  '<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/></D:prop></D:propfind>\n';

/**
 * WebDAV storage (davs://, https://, as most grid RSEs are reached: dCache, StoRM, EOS, XRootD-HTTP):
 * PUT with the parent collections created by MKCOL where the server needs them, GET, PROPFIND
 * (Depth 0) for existence and size, DELETE. Authenticates with the TLS client certificate of its
 * pool (user certificate or RFC 3820 proxy) and/or a bearer token. A refusal names the credential
 * and why (401 vs 403, the TLS alert), as a StorageAccessError.
 */
export class DavStore implements ObjectStore {
  readonly scheme: string;
  readonly presented: string;
  /** Collections known to exist (created here, or answered 405 to MKCOL). */
  private readonly known = new Set<string>();
  /** Collections this store created (for removeEmptyParents). */
  private readonly created = new Set<string>();
  private readonly creating = new Map<string, Promise<void>>();
  private createParents: boolean;
  private readonly prefix: string;

  constructor(private readonly options: DavStoreOptions) {
    this.scheme = options.scheme;
    this.presented = describePresented(options.certificate, options.bearer);
    this.createParents = options.createParents ?? false;
    this.prefix = `/${options.prefix.replace(/^\/+|\/+$/g, '')}`.replace(/^\/$/, '');
  }

  async put(pfn: string, bytes: Uint8Array, options: PutOptions = {}): Promise<void> {
    const url = this.urlOf(pfn);
    const parent = parentOf(url.pathname);
    const body = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headers: Record<string, string> = { 'content-length': String(body.byteLength) };
    if (options.ifAbsent === true) headers['if-none-match'] = '*';
    if (options.adler32 !== undefined) {
      headers.digest = `adler32=${options.adler32}`;
      headers['want-digest'] = 'adler32';
    }
    let prepared = false;
    if (this.createParents && !this.known.has(parent)) {
      await this.ensureCollection(url, parent, pfn);
      prepared = true;
    }
    let response = await this.request('put', pfn, 'PUT', url, { body, headers, signal: options.signal });
    if (response.statusCode === 409 && !prepared) {
      // mod_dav creates no parents: create them, and from now on before the first PUT into each.
      await response.body.dump();
      this.createParents = true;
      this.known.delete(parent);
      await this.ensureCollection(url, parent, pfn);
      response = await this.request('put', pfn, 'PUT', url, { body, headers, signal: options.signal });
    }
    if (response.statusCode === 412 && options.ifAbsent === true) {
      await response.body.dump();
      throw new ObjectExistsError(pfn);
    }
    if (response.statusCode === 409) {
      await response.body.dump();
      throw new StorageError(
        'put',
        pfn,
        'HTTP 409 Conflict although the parent collections exist: something else (a collection, or a file where a collection should be) is in the way',
      );
    }
    if (![200, 201, 204].includes(response.statusCode)) throw await this.failure('put', pfn, response);
    await response.body.dump();
    this.known.add(parent);
    const theirs = digestValue(response.headers.digest, 'adler32');
    if (theirs !== undefined && options.adler32 !== undefined && !sameAdler32(theirs, options.adler32)) {
      throw new StorageTransientError(
        'put',
        pfn,
        `the storage computed adler32 ${theirs} for the bytes it received, but they were sent with adler32 ${options.adler32}: damaged on the way`,
      );
    }
  }

  async get(pfn: string, options: StoreCallOptions = {}): Promise<Uint8Array> {
    const response = await this.request('get', pfn, 'GET', this.urlOf(pfn), { signal: options.signal });
    if (response.statusCode === 404) {
      await response.body.dump();
      throw new ObjectNotFoundError(pfn);
    }
    if (response.statusCode !== 200) throw await this.failure('get', pfn, response);
    // The caller verifies the bytes against the catalog's checksums; a storage Digest adds nothing there.
    return new Uint8Array(await response.body.arrayBuffer());
  }

  async stat(pfn: string, options: StoreCallOptions = {}): Promise<{ bytes: number } | undefined> {
    const response = await this.request('stat', pfn, 'PROPFIND', this.urlOf(pfn), {
      body: propfindBody,
      headers: { depth: '0', 'content-type': 'application/xml; charset=utf-8' },
      signal: options.signal,
    });
    if (response.statusCode === 404) {
      await response.body.dump();
      return undefined;
    }
    if (response.statusCode !== 207) throw await this.failure('stat', pfn, response);
    const entries = parseMultistatus(await response.body.text());
    const entry = entries[0];
    if (entry === undefined) throw new StorageError('stat', pfn, 'the PROPFIND answer (207) lists nothing');
    return entry.collection ? undefined : { bytes: entry.bytes ?? 0 };
  }

  async delete(pfn: string, options: StoreCallOptions = {}): Promise<void> {
    const response = await this.request('delete', pfn, 'DELETE', this.urlOf(pfn), { signal: options.signal });
    if (![200, 202, 204, 404].includes(response.statusCode)) throw await this.failure('delete', pfn, response);
    await response.body.dump();
  }

  async removeEmptyParents(pfn: string, options: StoreCallOptions = {}): Promise<void> {
    const url = this.urlOf(pfn);
    // Only collections this store made, below the prefix, and only while empty: DELETE of a
    // collection is recursive in WebDAV, so a collection holding anything is left alone.
    for (let dir = parentOf(url.pathname); this.created.has(dir) && dir.startsWith(`${this.prefix}/`); dir = parentOf(dir)) {
      const collection = new URL(`${dir}/`, url);
      const listing = await this.request('list', collection.href, 'PROPFIND', collection, {
        body: propfindBody,
        headers: { depth: '1', 'content-type': 'application/xml; charset=utf-8' },
        signal: options.signal,
      });
      if (listing.statusCode !== 207) throw await this.failure('list', collection.href, listing);
      if (parseMultistatus(await listing.body.text()).length > 1) return;
      const removed = await this.request('delete', collection.href, 'DELETE', collection, { signal: options.signal });
      if (![200, 202, 204, 404].includes(removed.statusCode)) throw await this.failure('delete', collection.href, removed);
      await removed.body.dump();
      this.created.delete(dir);
      this.known.delete(dir);
    }
  }

  close(): Promise<void> {
    // The pools belong to the client's TlsConnections.
    return Promise.resolve();
  }

  private urlOf(pfn: string): URL {
    const url = URL.canParse(pfn) ? new URL(pfn.replace(/^davs:/, 'https:').replace(/^dav:/, 'http:')) : undefined;
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new StorageError('address', pfn, 'not a davs://, https://, dav:// or http:// PFN');
    }
    return url;
  }

  /** Makes sure the collection `path` exists: MKCOL, its parent first when the server says it is missing (409). */
  private ensureCollection(url: URL, path: string, pfn: string): Promise<void> {
    if (this.known.has(path)) return Promise.resolve();
    let pending = this.creating.get(path);
    if (pending === undefined) {
      pending = this.makeCollection(url, path, pfn).finally(() => this.creating.delete(path));
      this.creating.set(path, pending);
    }
    return pending;
  }

  private async makeCollection(url: URL, path: string, pfn: string): Promise<void> {
    if (path === '') throw new StorageError('put', pfn, `the server refuses to create collections even at its top level (${url.origin})`);
    const target = new URL(`${path}/`, url);
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await this.request('mkcol', pfn, 'MKCOL', target, {});
      if (response.statusCode === 201 || response.statusCode === 405) {
        // 405: it exists already (another uploader made it, or it was there).
        await response.body.dump();
        this.known.add(path);
        if (response.statusCode === 201) this.created.add(path);
        return;
      }
      if (response.statusCode === 409 && attempt === 0) {
        await response.body.dump();
        await this.ensureCollection(url, parentOf(path), pfn);
        continue;
      }
      throw await this.failure('mkcol', target.href, response);
    }
  }

  /** One request with the bearer token; after a 401 the token is read again and, if it changed, sent once more. */
  private async request(operation: Operation, pfn: string, method: string, url: URL, init: SendInit): Promise<Dispatcher.ResponseData> {
    let token = this.options.bearer === undefined ? undefined : await this.options.bearer.token();
    for (let attempt = 0; ; attempt++) {
      const response = await this.send(operation, pfn, method, url, init, token);
      if (response.statusCode !== 401 || token === undefined || attempt > 0 || this.options.bearer === undefined) return response;
      const next = await this.options.bearer.replacing(token);
      if (next === undefined) return response;
      await response.body.dump();
      token = next;
    }
  }

  private async send(
    operation: Operation,
    pfn: string,
    method: string,
    url: URL,
    init: SendInit,
    token: string | undefined,
  ): Promise<Dispatcher.ResponseData> {
    const dispatcher = await this.options.dispatcher();
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent ?? 'wavefier', ...(init.headers ?? {}) };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    try {
      return await dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method,
        headers,
        body: init.body ?? null,
        headersTimeout: this.options.timeoutMs ?? 30_000,
        bodyTimeout: this.options.timeoutMs ?? 30_000,
        signal: init.signal ?? null,
      });
    } catch (error) {
      throw await this.networkFailure(operation, pfn, url, error);
    }
  }

  private async networkFailure(operation: Operation, pfn: string, url: URL, error: unknown): Promise<Error> {
    if ((error as { name?: string }).name === 'AbortError') return error as Error;
    const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
    const refusal = clientCertificateRefusal(code);
    if (refusal !== undefined) return this.tlsRefusal(operation, pfn, refusal, error);
    if (isUntrustedServer(code)) {
      return new StorageAccessError(
        operation,
        pfn,
        `the storage's TLS certificate is not trusted (${code ?? 'unknown'}: ${(error as Error).message}); trusted CAs: ${this.options.trust}. ` +
          'Give the storage\'s CA with --ca-cert or X509_CERT_DIR (a grid host\'s /etc/grid-security/certificates)',
        this.presented,
        undefined,
        { cause: error },
      );
    }
    if ((code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') && url.protocol === 'https:') {
      // With TLS 1.3 a refused client certificate reaches undici as a closed socket: ask the server again.
      const alert = await readTlsAlert(url, await this.options.tls()).catch(() => undefined);
      const meaning = clientCertificateRefusal(alert);
      if (meaning !== undefined) return this.tlsRefusal(operation, pfn, meaning, error);
    }
    if (isTransientNetworkCode(code)) return new StorageTransientError(operation, pfn, code ?? 'network error', { cause: error });
    return new StorageError(operation, pfn, `${code ?? (error as Error).message} at ${redactUrl(url.href)}`, { cause: error });
  }

  private tlsRefusal(operation: Operation, pfn: string, meaning: string, error: unknown): StorageAccessError {
    const presented = this.options.certificate === undefined ? 'no client certificate was presented (none found)' : `presented: ${this.presented}`;
    return new StorageAccessError(operation, pfn, `TLS handshake refused: ${meaning}; ${presented}`, this.presented, undefined, { cause: error });
  }

  /** The error for an unexpected answer: a refusal of our credentials, a transient server state, or permanent. */
  private async failure(operation: Operation, pfn: string, response: Dispatcher.ResponseData): Promise<Error> {
    const text = (await response.body.text().catch(() => '')).slice(0, 300);
    const status = response.statusCode;
    if (status === 401) {
      const challenge = headerText(response.headers['www-authenticate']);
      const bearer = this.options.bearer;
      let reason: string;
      if (bearer === undefined) {
        reason =
          `HTTP 401: the storage wants ${/^\s*bearer/i.test(challenge ?? '') ? 'a bearer token' : `credentials (WWW-Authenticate: ${challenge ?? 'none given'})`} and none was found: ` +
          'set BEARER_TOKEN or BEARER_TOKEN_FILE, put the token in $XDG_RUNTIME_DIR/bt_u<uid> or /tmp/bt_u<uid>, or pass --bearer-token-file';
      } else {
        const why = /error="?([a-z_]+)/i.exec(challenge ?? '')?.[1];
        reason =
          `HTTP 401${why === undefined ? '' : ` (${why})`}: the storage refused the bearer token ${bearer.source}: ` +
          'it has expired, was revoked, or is not meant for this storage (audience, scope); get a fresh one (e.g. oidc-token, htgettoken)';
      }
      return new StorageAccessError(operation, pfn, reason, this.presented, status);
    }
    if (status === 403) {
      const hint =
        this.options.certificate === undefined && this.options.bearer === undefined
          ? 'nothing was presented: grid storage wants an X.509 proxy (X509_USER_PROXY, /tmp/x509up_u<uid>), a certificate, or a bearer token'
          : `the identity presented (${this.presented}) is not allowed to ${operation} here`;
      return new StorageAccessError(operation, pfn, `HTTP 403 Forbidden: ${hint}`, this.presented, status);
    }
    const reason = `HTTP ${status}${text === '' ? '' : `: ${oneLine(text)}`}`;
    if (status >= 500 || status === 429 || status === 408) return new StorageTransientError(operation, pfn, reason);
    return new StorageError(operation, pfn, reason);
  }
}

function parentOf(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(0, Math.max(0, trimmed.lastIndexOf('/')));
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function oneLine(text: string): string {
  return text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 160);
}

/**
 * The value of one algorithm in an RFC 3230 `Digest` header (`adler32=03da0195,md5=...`), or
 * undefined when the header does not carry it (Apache sends none).
 */
export function digestValue(header: string | string[] | undefined, algorithm: string): string | undefined {
  const text = headerText(header);
  if (text === undefined) return undefined;
  for (const part of text.split(',')) {
    const separator = part.indexOf('=');
    if (separator > 0 && part.slice(0, separator).trim().toLowerCase() === algorithm) {
      const value = part.slice(separator + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

interface MultistatusEntry {
  href: string;
  collection: boolean;
  bytes?: number;
}

const multistatusParser = new XMLParser({ removeNSPrefix: true, ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'response' || name === 'propstat' });

/** The entries of a PROPFIND 207 answer (namespace prefixes vary by server: `D:`, `lp1:`, `d:`). */
export function parseMultistatus(xml: string): MultistatusEntry[] {
  const document = multistatusParser.parse(xml) as { multistatus?: { response?: unknown[] } };
  const responses = document.multistatus?.response ?? [];
  return responses.map((raw) => {
    const response = raw as { href?: string; propstat?: { prop?: Record<string, unknown>; status?: unknown }[] };
    const found = (response.propstat ?? []).find((p) => typeof p.status !== 'string' || / 200 /.test(p.status))?.prop ?? {};
    const type = found.resourcetype;
    const collection = typeof type === 'object' && type !== null && 'collection' in type;
    const length = Number(found.getcontentlength);
    return { href: typeof response.href === 'string' ? response.href : '', collection, ...(Number.isFinite(length) && found.getcontentlength !== undefined ? { bytes: length } : {}) };
  });
}
