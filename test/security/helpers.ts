import { createHash, createHmac } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LakeOptions } from '../../src/lake/index.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';

/** node:crypto behind the hash interface of the SDK's own SigV4 signer (an HMAC when given a key). */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as Uint8Array));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : Buffer.from(data as Uint8Array));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

/**
 * A lake whose directory sits four levels below a sandbox (`<sandbox>/a/b/c/lake`): a key that
 * climbs out of its bucket with seven `..` lands in the sandbox, where the test looks for it.
 */
export interface SandboxLake {
  lake: TestLake;
  sandbox: string;
  dir: string;
  /** `x/` then enough `..` segments (in the given spelling) to climb from the bucket to the sandbox. */
  climb(dotdot: string, separator?: string): string;
  dispose(): Promise<void>;
}

export async function startSandboxLake(options: LakeOptions = {}): Promise<SandboxLake> {
  const sandbox = await mkdtemp(join(tmpdir(), 'wavefier-security-'));
  const dir = join(sandbox, 'a', 'b', 'c', 'lake');
  await mkdir(dir, { recursive: true });
  const lake = await startTestLake({ ...options, dir });
  return {
    lake,
    sandbox,
    dir,
    climb: (dotdot, separator = '/') => `x${separator}${Array.from({ length: 7 }, () => dotdot).join(separator)}${separator}`,
    async dispose() {
      await lake.dispose();
      await rm(sandbox, { recursive: true, force: true });
    },
  };
}

/** Every file and directory under `root`, relative, sorted (the lake's database files left out: they change on their own). */
export async function listTree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .filter((path) => !/catalog\.sqlite/.test(path))
    .sort();
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An HTTP request with the path exactly as given (fetch would resolve `..` segments first). */
export function rawRequest(endpoint: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<RawResponse> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface SignOptions {
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** When the request claims to be signed (default now). */
  signingDate?: Date;
  secretAccessKey?: string;
  /** Presign for this many seconds instead of signing the headers. */
  presignSeconds?: number;
}

const encodeQuery = (text: string): string => encodeURIComponent(text).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * A request to the lake's S3 server signed with its keys by the SDK's own signer, for a path
 * exactly as given: what a client holding the keys (or a presigned URL) can send.
 */
export async function signedS3(lake: TestLake, method: string, rawPath: string, options: SignOptions = {}): Promise<RawResponse> {
  const url = new URL(lake.settings.s3.endpoint);
  const signer = new SignatureV4({
    credentials: { accessKeyId: lake.settings.s3.accessKeyId, secretAccessKey: options.secretAccessKey ?? lake.settings.s3.secretAccessKey },
    region: lake.settings.s3.region,
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const unsigned = {
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: rawPath,
    query: options.query ?? {},
    headers: {
      host: url.host,
      // Presigned URLs carry it as X-Amz-Content-Sha256 in the query, as the SDK's presigner does.
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      ...(body === undefined ? {} : { 'content-length': String(body.length) }),
      ...options.headers,
    },
  };
  const signingDate = options.signingDate ?? new Date();
  const signed =
    options.presignSeconds === undefined
      ? await signer.sign(unsigned, { signingDate })
      : await signer.presign(unsigned, { signingDate, expiresIn: options.presignSeconds });
  const query = Object.entries(signed.query ?? {})
    .map(([name, value]) => `${encodeQuery(name)}=${encodeQuery(String(value))}`)
    .join('&');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) if (name !== 'host' || options.headers?.host !== undefined) headers[name] = value;
  return rawRequest(lake.settings.s3.endpoint, method, query === '' ? rawPath : `${rawPath}?${query}`, headers, body);
}

/** The lake answers both its servers normally (after a request that tried to bring one down). */
export async function lakeIsUp(lake: TestLake): Promise<boolean> {
  const ping = await fetch(`${lake.settings.rucioHost}/ping`);
  const s3 = await signedS3(lake, 'PUT', '/wavefier-lake/health/probe', { body: 'ok' });
  return ping.status === 200 && s3.status === 200;
}
