import type { Dispatcher } from 'undici';
import { redactUrl } from '../common/redact.js';
import {
  isTransientNetworkCode,
  ObjectExistsError,
  ObjectNotFoundError,
  StorageError,
  StorageTransientError,
  type ObjectStore,
  type PutOptions,
  type StoreCallOptions,
} from './object-store.js';

export type SignOperation = 'read' | 'write' | 'delete';

export interface HttpStoreOptions {
  scheme: 'http' | 'https' | 'davs';
  dispatcher: Dispatcher;
  /**
   * Turns a PFN into the URL to call for an operation: Rucio's `GET /credentials/signurl` when the
   * RSE has `sign_url`. Without it the PFN is used as is (plain HTTP / WebDAV storage).
   */
  sign?: ((operation: SignOperation, pfn: string) => Promise<string>) | undefined;
  /** Extra headers for unsigned requests (e.g. a bearer token for WebDAV). */
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Plain HTTP(S) storage: PUT/GET/DELETE on the PFN, or on a URL the Rucio server presigned for it
 * (an S3 RSE whose keys only the server holds).
 */
export class HttpStore implements ObjectStore {
  readonly scheme: string;

  constructor(private readonly options: HttpStoreOptions) {
    this.scheme = options.scheme;
  }

  private async target(operation: SignOperation, pfn: string): Promise<string> {
    const url = this.options.sign ? await this.options.sign(operation, pfn) : pfn;
    return url.replace(/^davs:/, 'https:').replace(/^dav:/, 'http:');
  }

  private async send(
    verb: string,
    operation: SignOperation,
    pfn: string,
    extra: { body?: Buffer; headers?: Record<string, string>; signal?: AbortSignal | undefined },
  ): Promise<Dispatcher.ResponseData> {
    const url = new URL(await this.target(operation, pfn));
    try {
      return await this.options.dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: verb,
        headers: { ...(this.options.sign ? {} : (this.options.headers ?? {})), ...(extra.headers ?? {}) },
        body: extra.body ?? null,
        headersTimeout: this.options.timeoutMs ?? 30_000,
        bodyTimeout: this.options.timeoutMs ?? 30_000,
        signal: extra.signal ?? null,
      });
    } catch (error) {
      const code = (error as { code?: string }).code ?? ((error as { cause?: { code?: string } }).cause?.code);
      if (isTransientNetworkCode(code)) throw new StorageTransientError(verb, pfn, code ?? 'network error', { cause: error });
      throw new StorageError(verb, pfn, `${code ?? (error as Error).message} at ${redactUrl(url.href)}`, { cause: error });
    }
  }

  async put(pfn: string, bytes: Uint8Array, options?: PutOptions): Promise<void> {
    const body = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const response = await this.send('PUT', 'write', pfn, {
      body,
      headers: { 'content-length': String(body.byteLength), ...(options?.ifAbsent === true ? { 'if-none-match': '*' } : {}) },
      signal: options?.signal,
    });
    if (options?.ifAbsent === true && response.statusCode === 412) {
      await response.body.dump();
      throw new ObjectExistsError(pfn);
    }
    await expectOk('put', pfn, response, [200, 201, 204]);
  }

  async get(pfn: string, options?: StoreCallOptions): Promise<Uint8Array> {
    const response = await this.send('GET', 'read', pfn, { signal: options?.signal });
    if (response.statusCode === 404) {
      await response.body.dump();
      throw new ObjectNotFoundError(pfn);
    }
    await expectOk('get', pfn, response, [200], true);
    return new Uint8Array(await response.body.arrayBuffer());
  }

  async stat(pfn: string, options?: StoreCallOptions): Promise<{ bytes: number } | undefined> {
    // A URL presigned for GET is not valid for HEAD, and s3rver drops the connection on a ranged GET of
    // an empty object: read the headers of a plain GET and discard the body (dump() gives up the
    // connection instead of reading a large object to the end).
    const response = await this.send('GET', 'read', pfn, { signal: options?.signal });
    await response.body.dump();
    if (response.statusCode === 404) return undefined;
    if (response.statusCode === 200) {
      const length = response.headers['content-length'];
      return { bytes: Number(Array.isArray(length) ? length[0] : length) || 0 };
    }
    await expectOk('stat', pfn, response, [200]);
    return undefined;
  }

  async delete(pfn: string, options?: StoreCallOptions): Promise<void> {
    const response = await this.send('DELETE', 'delete', pfn, { signal: options?.signal });
    if (response.statusCode === 404) {
      await response.body.dump();
      return;
    }
    await expectOk('delete', pfn, response, [200, 202, 204]);
  }

  close(): Promise<void> {
    // The dispatcher belongs to the client that created this store.
    return Promise.resolve();
  }
}

async function expectOk(
  operation: string,
  pfn: string,
  response: Dispatcher.ResponseData,
  ok: number[],
  keepBody = false,
): Promise<void> {
  if (ok.includes(response.statusCode)) {
    if (!keepBody) await response.body.dump();
    return;
  }
  const text = (await response.body.text().catch(() => '')).slice(0, 300);
  const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
  const reason = `HTTP ${response.statusCode}${code === undefined ? '' : ` ${code}`}`;
  if (response.statusCode >= 500 || response.statusCode === 429 || response.statusCode === 408) {
    throw new StorageTransientError(operation, pfn, reason);
  }
  const hint =
    response.statusCode === 403 || response.statusCode === 401
      ? '; the signed URL was refused (expired, or signed for another operation) or credentials are missing'
      : '';
  throw new StorageError(operation, pfn, `${reason}${hint}`);
}
