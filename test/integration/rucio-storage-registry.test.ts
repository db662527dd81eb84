import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  lfn2pfn,
  StorageRegistry,
  TlsConnections,
  type RseInfo,
  type RseLookup,
  type RseProtocol,
  type SignUrlRequest,
} from '../../src/rucio/index.js';
import { S3Store } from '../../src/rucio/stores.js';
import { startS3rver } from '../fixtures/rucio/s3rver.js';

/**
 * The storage registry with no Rucio client behind it: RSE descriptions come from a table (what a
 * static deployment description would hold), signatures from the AWS presigner, bytes go to a real
 * S3 server and the local disk.
 */

const bucket = 'registry';
let dir: string;
let s3: Awaited<ReturnType<typeof startS3rver>>;
let signer: S3Client;
let connections: TlsConnections;

const writable = { wan: { read: 1, write: 1, delete: 1 } };

function protocol(fields: Pick<RseProtocol, 'scheme' | 'hostname' | 'port' | 'prefix'> & Partial<RseProtocol>): RseProtocol {
  return { impl: null, domains: writable, extended_attributes: null, ...fields };
}

function rse(name: string, protocols: RseProtocol[], extra: Partial<RseInfo> = {}): RseInfo {
  return {
    name,
    deterministic: true,
    lfn2pfnAlgorithm: 'hash',
    availabilityWrite: true,
    availabilityRead: true,
    verifyChecksum: true,
    protocols,
    attributes: {},
    ...extra,
  };
}

/** A catalog of RSEs held in memory; records what the registry asked it. */
class RseTable implements RseLookup {
  readonly asked: string[] = [];
  private readonly rses: Map<string, RseInfo>;

  constructor(
    rses: RseInfo[],
    private readonly pfns: Record<string, string> = {},
  ) {
    this.rses = new Map(rses.map((r) => [r.name, r]));
  }

  rse(name: string): Promise<RseInfo> {
    this.asked.push(`rse ${name}`);
    const info = this.rses.get(name);
    return info === undefined ? Promise.reject(new Error(`no RSE ${name} in the table`)) : Promise.resolve(info);
  }

  lfns2pfns(rseName: string, lfns: { scope: string; name: string }[], options: { scheme?: string; operation?: string }): Promise<Record<string, string>> {
    this.asked.push(`lfns2pfns ${rseName} ${lfns.map((l) => `${l.scope}:${l.name}`).join(',')} ${options.scheme ?? ''} ${options.operation ?? ''}`);
    return Promise.resolve(Object.fromEntries(lfns.flatMap((l) => {
      const pfn = this.pfns[`${l.scope}:${l.name}`];
      return pfn === undefined ? [] : [[`${l.scope}:${l.name}`, pfn]];
    })));
  }
}

beforeAll(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  dir = await mkdtemp(join(tmpdir(), 'rucio-registry-'));
  s3 = await startS3rver(join(dir, 's3'), [bucket]);
  signer = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  connections = new TlsConnections({ insecure: false });
});

afterAll(async () => {
  expect(await connections.close()).toEqual([]);
  signer.destroy();
  await s3.close();
  await rm(dir, { recursive: true, force: true });
});

async function presign(request: SignUrlRequest): Promise<string> {
  const { bucket: b, key } = S3Store.locate(request.url);
  const command =
    request.operation === 'write'
      ? new PutObjectCommand({ Bucket: b, Key: key })
      : request.operation === 'delete'
        ? new DeleteObjectCommand({ Bucket: b, Key: key })
        : new GetObjectCommand({ Bucket: b, Key: key });
  return getSignedUrl(signer, command, { expiresIn: request.lifetime ?? 600 });
}

describe.each(['direct', 'sdk'] as const)('StorageRegistry without a Rucio client (s3 engine %s)', (engine) => {
  let registry: StorageRegistry;
  let table: RseTable;
  const signed: SignUrlRequest[] = [];
  const scope = 'wavefier';

  beforeAll(() => {
    const s3Protocol = protocol({ scheme: 's3', hostname: '127.0.0.1', port: s3.port, prefix: `/${bucket}/lake`, extended_attributes: { endpoint_scheme: 'http' } });
    table = new RseTable(
      [
        rse('REG_S3', [s3Protocol]),
        rse('REG_FILE', [protocol({ scheme: 'file', hostname: 'localhost', port: 0, prefix: join(dir, 'posix') })], { lfn2pfnAlgorithm: 'identity' }),
        rse('REG_SIGNED', [protocol({ scheme: 'http', hostname: '127.0.0.1', port: s3.port, prefix: `/${bucket}/signed` })], { signUrl: 's3' }),
        rse('REG_NONDET', [protocol({ scheme: 'file', hostname: 'localhost', port: 0, prefix: join(dir, 'nondet') })], { deterministic: false }),
        rse('REG_GRIDFTP', [protocol({ scheme: 'gsiftp', hostname: 'gridftp.example.org', port: 2811, prefix: '/data' })]),
        rse('REG_READONLY', [protocol({ scheme: 'file', hostname: 'localhost', port: 0, prefix: '/ro', domains: { wan: { read: 1, write: 0 } } })]),
      ],
      { [`${scope}:nondet-${engine}.bin`]: `file://localhost${join(dir, 'nondet', 'chosen-by-the-server', `nondet-${engine}.bin`)}` },
    );
    registry = new StorageRegistry({
      rses: table,
      signUrl: (request) => {
        signed.push(request);
        return presign(request);
      },
      connections,
      settings: {
        rseAccounts: { REG_S3: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', endpoint: s3.endpoint } },
        s3Checksums: 'WHEN_REQUIRED',
        s3Engine: engine,
        timeoutMs: 10_000,
      },
    });
  });

  afterAll(async () => {
    await registry.close();
  });

  it('writes to S3 at the deterministic PFN and reads back through the store that serves the PFN', async () => {
    const name = `chunk-${engine}.hdf5`;
    const bytes = randomBytes(4096);
    const target = await registry.writeTarget('REG_S3', scope, name);
    expect(target.pfn).toBe(lfn2pfn(scope, name, { scheme: 's3', hostname: '127.0.0.1', port: s3.port, prefix: `/${bucket}/lake` }));
    await target.store.put(target.pfn, bytes);
    // The object is where the PFN says, as another S3 client sees it.
    const { key } = S3Store.locate(target.pfn);
    const seen = await signer.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(Buffer.from(await seen.Body!.transformToByteArray()).equals(bytes)).toBe(true);
    const reader = await registry.forPfn('REG_S3', target.pfn);
    expect(reader).toBe(target.store);
    expect(Buffer.from(await reader.get(target.pfn)).equals(bytes)).toBe(true);
    expect(registry.counts).toMatchObject({ 's3 PUT': 1, 's3 GET': 1 });
  });

  it('writes to a posix RSE under its identity path', async () => {
    const target = await registry.writeTarget('REG_FILE', scope, `posix-${engine}.bin`);
    expect(target.pfn).toBe(`file://localhost${join(dir, 'posix', scope, `posix-${engine}.bin`)}`);
    await target.store.put(target.pfn, Buffer.from('posix bytes'));
    expect(await readFile(join(dir, 'posix', scope, `posix-${engine}.bin`), 'utf8')).toBe('posix bytes');
  });

  it('asks the lookup for the PFN on a non-deterministic RSE', async () => {
    const name = `nondet-${engine}.bin`;
    const target = await registry.writeTarget('REG_NONDET', scope, name);
    expect(table.asked).toContain(`lfns2pfns REG_NONDET ${scope}:${name} file write`);
    expect(target.pfn).toBe(`file://localhost${join(dir, 'nondet', 'chosen-by-the-server', name)}`);
    await expect(registry.writeTarget('REG_NONDET', scope, 'unknown.bin')).rejects.toThrow(`RSE REG_NONDET did not resolve a PFN for ${scope}:unknown.bin`);
  });

  it('signs every operation on an RSE with sign_url through the given function, never a signed URL twice', async () => {
    const name = `signed-${engine}.bin`;
    const bytes = randomBytes(1000);
    const target = await registry.writeTarget('REG_SIGNED', scope, name);
    await target.store.put(target.pfn, bytes);
    expect(Buffer.from(await target.store.get(target.pfn)).equals(bytes)).toBe(true);
    expect(signed.slice(-2)).toEqual([
      { rse: 'REG_SIGNED', url: target.pfn, operation: 'write', service: 's3' },
      { rse: 'REG_SIGNED', url: target.pfn, operation: 'read', service: 's3' },
    ]);
    const alreadySigned = await presign({ rse: 'REG_SIGNED', url: target.pfn, operation: 'read' });
    const before = signed.length;
    expect(Buffer.from(await target.store.get(alreadySigned)).equals(bytes)).toBe(true);
    expect(signed.length).toBe(before);
  });

  it('names the supported protocols for one it does not speak, and refuses an RSE without a write protocol', async () => {
    await expect(registry.writeTarget('REG_GRIDFTP', scope, 'x')).rejects.toThrow(
      "RSE REG_GRIDFTP protocol 'gsiftp' is not supported by wavefier (supported: file, posix, s3, http, https, davs, dav)",
    );
    await expect(registry.writeTarget('REG_READONLY', scope, 'x')).rejects.toThrow(/RSE REG_READONLY has no protocol that allows writes/);
    await expect(registry.forPfn('REG_S3', 'davs://elsewhere/x')).rejects.toThrow(/RSE REG_S3 has no 'davs' protocol/);
  });
});
