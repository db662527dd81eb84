import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startLake, type LakeSettings } from '../../../src/lake/lake.js';
import { lfn2path } from '../../../src/rucio/index.js';
import { signature } from '../../../src/lake/sigv4.js';
import type { Benchmark, Metric } from '../types.js';

/**
 * Throughput of the embedded lake on the per-chunk hot paths: attach-with-rse (the uploader's one
 * catalog call), S3 PUT and GET of 33 KB chunks, and the cost of an `updated_after` poll at two
 * dataset sizes. The lake runs in a worker thread (its own event loop and core, as with
 * `lake serve`); the load comes from a lean keep-alive HTTP client in the main thread that signs
 * its S3 requests itself (SigV4, checked by the lake), plus one run through the AWS SDK to show
 * what a real client costs on the same machine.
 */
export interface LakeBenchResult {
  files: number;
  concurrency: number;
  attachPerSecond: number;
  s3PutPerSecond: number;
  s3GetPerSecond: number;
  /** PUTs/s through @aws-sdk/client-s3 (signing, middleware) instead of the lean client. */
  s3PutPerSecondAwsSdk: number;
  /** Median ms of an `updated_after` poll that finds nothing new. */
  emptyPollMs: { afterFirst100: number; afterAll: number };
  fullContentListingMs: number;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function client(base: string, concurrency: number): (method: string, path: string, body?: Buffer | string, headers?: Record<string, string>) => Promise<Reply> {
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  return (method, path, body, headers = {}) =>
    new Promise((resolve, reject) => {
      const request = http.request({ host: url.hostname, port: url.port, method, path, agent, headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      });
      request.on('error', reject);
      request.end(body);
    });
}

async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let index = next++; index < count; index = next++) await task(index);
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function expect(reply: Reply, status: number, what: string): void {
  if (reply.status !== status) throw new Error(`${what} answered ${reply.status}: ${reply.body.toString('utf8').slice(0, 200)}`);
}

export async function runLakeBenchmark(options: { files?: number; concurrency?: number; chunkBytes?: number } = {}): Promise<LakeBenchResult> {
  const files = options.files ?? 5000;
  const concurrency = options.concurrency ?? 16;
  const chunk = Buffer.alloc(options.chunkBytes ?? 33_000, 7);
  const sums = { adler32: '0a1b2c3d', md5: createHash('md5').update(chunk).digest('hex') };
  const dir = await mkdtemp(join(tmpdir(), 'wavefier-lake-bench-'));
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { dir } });
  try {
    const settings = await new Promise<LakeSettings>((resolve, reject) => {
      worker.once('message', (message: LakeSettings) => resolve(message));
      worker.once('error', reject);
    });
    const catalog = client(settings.rucioHost, concurrency);
    const storage = client(settings.s3.endpoint, concurrency);
    const auth = await catalog('GET', '/auth/userpass', undefined, {
      'X-Rucio-Account': settings.account,
      'X-Rucio-Username': settings.username,
      'X-Rucio-Password': settings.password,
    });
    const token = String(auth.headers['x-rucio-auth-token']);
    const rucio = (path: string, body: unknown): Promise<Reply> => catalog('POST', path, JSON.stringify(body), { 'X-Rucio-Auth-Token': token });
    const s3Host = new URL(settings.s3.endpoint).host;
    const s3Headers = (method: string, path: string): Record<string, string> => {
      const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
      const headers = { host: s3Host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-date': amzDate };
      const signedHeaders = ['host', 'x-amz-content-sha256', 'x-amz-date'];
      const sig = signature(
        { method, path, rawQuery: '', headers, signedHeaders, payloadHash: 'UNSIGNED-PAYLOAD', amzDate, region: settings.s3.region, service: 's3' },
        settings.s3.secretAccessKey,
      );
      const scope = `${amzDate.slice(0, 8)}/${settings.s3.region}/s3/aws4_request`;
      return {
        ...headers,
        Authorization: `AWS4-HMAC-SHA256 Credential=${settings.s3.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${sig}`,
      };
    };
    const name = (i: number): string => `B-BENCH-${1_000_000_000 + i}-1.hdf5`;
    const objectPath = (i: number): string => `/wavefier-lake/${lfn2path('wavefier', name(i))}`;
    const attach = (i: number): Promise<Reply> =>
      rucio('/dids/wavefier/bench/dids', { rse: 'LAKE_S3', dids: [{ scope: 'wavefier', name: name(i), bytes: chunk.length, ...sums }] });
    const poll = async (): Promise<number> => {
      const samples: number[] = [];
      for (let i = 0; i < 25; i++) {
        const start = performance.now();
        const reply = await rucio('/replicas/list', { dids: [{ scope: 'wavefier', name: 'bench' }], updated_after: new Date(Date.now() + 1000).toISOString().slice(0, 19) });
        expect(reply, 200, 'poll');
        samples.push(performance.now() - start);
      }
      return median(samples);
    };

    expect(await rucio('/dids/wavefier/bench', { type: 'DATASET' }), 201, 'add dataset');
    for (let i = 0; i < 100; i++) expect(await attach(i), 201, 'attach');
    const afterFirst100 = await poll();
    const s3PutPerSecond = await pool(files, concurrency, async (i) => {
      expect(await storage('PUT', objectPath(i), chunk, { ...s3Headers('PUT', objectPath(i)), 'Content-Length': String(chunk.length) }), 200, 'PUT');
    });
    const attachPerSecond = await pool(files - 100, concurrency, async (i) => {
      expect(await attach(i + 100), 201, 'attach');
    });
    const s3GetPerSecond = await pool(files, concurrency, async (i) => {
      const reply = await storage('GET', objectPath(i), undefined, s3Headers('GET', objectPath(i)));
      if (reply.status !== 200 || reply.body.length !== chunk.length) throw new Error(`GET ${i} answered ${reply.status}`);
    });
    const afterAll = await poll();
    const listStart = performance.now();
    expect(await catalog('GET', '/dids/wavefier/bench/dids', undefined, { 'X-Rucio-Auth-Token': token }), 200, 'list content');
    const fullContentListingMs = performance.now() - listStart;

    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const sdk = new S3Client({
      endpoint: settings.s3.endpoint,
      region: settings.s3.region,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      credentials: { accessKeyId: settings.s3.accessKeyId, secretAccessKey: settings.s3.secretAccessKey },
    });
    const sdkCount = Math.min(files, 2000);
    const s3PutPerSecondAwsSdk = await pool(sdkCount, concurrency, async (i) => {
      await sdk.send(new PutObjectCommand({ Bucket: 'wavefier-lake', Key: `sdk/${i}`, Body: chunk }));
    });
    sdk.destroy();
    return {
      files,
      concurrency,
      attachPerSecond: Math.round(attachPerSecond),
      s3PutPerSecond: Math.round(s3PutPerSecond),
      s3GetPerSecond: Math.round(s3GetPerSecond),
      s3PutPerSecondAwsSdk: Math.round(s3PutPerSecondAwsSdk),
      emptyPollMs: { afterFirst100: Number(afterFirst100.toFixed(2)), afterAll: Number(afterAll.toFixed(2)) },
      fullContentListingMs: Number(fullContentListingMs.toFixed(1)),
    };
  } finally {
    worker.postMessage('stop');
    await new Promise((resolve) => worker.once('exit', resolve));
    await rm(dir, { recursive: true, force: true });
  }
}

/** 14,400 chunks in 60 s means 240 per second of each: PUT, attach, GET (DESIGN.md §5). */
export const lakeThroughputBenchmark: Benchmark = {
  name: 'lake-throughput',
  title: 'Embedded lake: attach, S3 PUT/GET and poll cost',
  description:
    'The embedded lake in a worker thread; a lean keep-alive HTTP client sends 14,400 attach-with-rse calls, ' +
    '14,400 S3 PUTs and GETs of 33 KB (16 in flight), then times an updated_after poll that finds nothing ' +
    'new with 100 and with 14,400 files in the dataset, and 2,000 PUTs through the AWS SDK.',
  async run(context): Promise<Metric[]> {
    context.log('lake-throughput: 14,400 files');
    const result = await runLakeBenchmark({ files: 14_400 });
    return [
      { name: 'attach with rse', value: result.attachPerSecond, unit: '/s', target: '>= 240' },
      { name: 'S3 PUT 33 KB', value: result.s3PutPerSecond, unit: '/s', target: '>= 240' },
      { name: 'S3 GET 33 KB', value: result.s3GetPerSecond, unit: '/s', target: '>= 240' },
      { name: 'S3 PUT 33 KB via AWS SDK', value: result.s3PutPerSecondAwsSdk, unit: '/s', note: 'client CPU included' },
      { name: 'empty poll, 100 files', value: result.emptyPollMs.afterFirst100, unit: 'ms' },
      { name: 'empty poll, 14,400 files', value: result.emptyPollMs.afterAll, unit: 'ms', target: '<= 5' },
      { name: 'full content listing, 14,400 files', value: result.fullContentListingMs, unit: 'ms' },
    ];
  },
};

if (!isMainThread && parentPort !== null && (workerData as { dir?: unknown } | null)?.dir !== undefined) {
  const port = parentPort;
  const { dir } = workerData as { dir: string };
  const lake = await startLake({ dir, quiet: true });
  port.on('message', () => {
    void lake.close().then(() => process.exit(0));
  });
  port.postMessage(lake.settings);
} else if (isMainThread && process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = Number(process.argv[2] ?? '5000');
  const result = await runLakeBenchmark({ files });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
