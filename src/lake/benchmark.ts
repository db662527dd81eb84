import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { checksums } from '../common/checksum.js';
import { startLake, type LakeSettings } from './lake.js';
import { lfn2pfnHash } from './names.js';

/**
 * Throughput of the embedded lake on the per-chunk hot paths: attach-with-rse (the uploader's one
 * catalog call), S3 PUT and GET of ~33 KB chunks, and the cost of an `updated_after` poll as the
 * dataset grows. The lake runs in a worker thread (its own event loop, as in `lake serve`); the load
 * generator in the main thread.
 */
export interface LakeBenchResult {
  files: number;
  concurrency: number;
  attachPerSecond: number;
  s3PutPerSecond: number;
  s3GetPerSecond: number;
  /**
   * Lake event-loop busy time per request (ms) in each phase, and the rate one core could sustain
   * at that cost (file I/O on libuv's threads not included). The load generator shares the machine,
   * so the measured rates above are lower bounds.
   */
  lakeBusyMsPerRequest: { attach: number; put: number; get: number };
  lakeCapacityPerSecond: { attach: number; put: number; get: number };
  /** Median ms of an `updated_after` poll that finds nothing new, at the start and at the end. */
  emptyPollMs: { smallDataset: number; fullDataset: number };
  fullListingMs: number;
}

async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let index = next++; index < count; index = next++) await task(index);
    }),
  );
  return (performance.now() - start) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export async function runLakeBenchmark(options: { files?: number; concurrency?: number; chunkBytes?: number } = {}): Promise<LakeBenchResult> {
  const files = options.files ?? 3000;
  const concurrency = options.concurrency ?? 16;
  const chunk = Buffer.alloc(options.chunkBytes ?? 33_000, 7);
  const dir = await mkdtemp(join(tmpdir(), 'wavefier-lake-bench-'));
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { dir } });
  try {
    const settings = await new Promise<LakeSettings>((resolve, reject) => {
      worker.once('message', (message: LakeSettings) => resolve(message));
      worker.once('error', reject);
    });
    const auth = await fetch(`${settings.authHost}/auth/userpass`, {
      headers: { 'X-Rucio-Account': settings.account, 'X-Rucio-Username': settings.username, 'X-Rucio-Password': settings.password },
    });
    const token = auth.headers.get('x-rucio-auth-token') ?? '';
    const rucio = (path: string, body: unknown): Promise<Response> =>
      fetch(`${settings.rucioHost}${path}`, { method: 'POST', headers: { 'X-Rucio-Auth-Token': token }, body: JSON.stringify(body) });
    await rucio('/dids/wavefier/bench', { type: 'DATASET' });
    const s3 = new S3Client({
      endpoint: settings.s3.endpoint,
      region: settings.s3.region,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      credentials: { accessKeyId: settings.s3.accessKeyId, secretAccessKey: settings.s3.secretAccessKey },
    });
    const sums = checksums(chunk);
    const name = (i: number): string => `B-BENCH-${1_000_000_000 + i}-1.hdf5`;
    const poll = async (): Promise<number> => {
      const samples: number[] = [];
      for (let i = 0; i < 15; i++) {
        const start = performance.now();
        const response = await rucio('/replicas/list', { dids: [{ scope: 'wavefier', name: 'bench' }], updated_after: new Date(Date.now() + 1000).toISOString().slice(0, 19) });
        await response.text();
        samples.push(performance.now() - start);
      }
      return median(samples);
    };
    await pool(50, concurrency, async (i) => {
      const response = await rucio('/dids/wavefier/bench/dids', { rse: 'LAKE_S3', dids: [{ scope: 'wavefier', name: `warm-${i}`, bytes: chunk.length, ...sums }] });
      await response.text();
    });
    const smallDataset = await poll();
    const busy = async (task: () => Promise<number>): Promise<{ seconds: number; busyMs: number }> => {
      const before = worker.performance.eventLoopUtilization();
      const seconds = await task();
      const after = worker.performance.eventLoopUtilization(before);
      return { seconds, busyMs: after.active };
    };
    const put = await busy(() => pool(files, concurrency, async (i) => {
      await s3.send(new PutObjectCommand({ Bucket: 'wavefier-lake', Key: lfn2pfnHash('wavefier', name(i)), Body: chunk }));
    }));
    const attach = await busy(() => pool(files, concurrency, async (i) => {
      const response = await rucio('/dids/wavefier/bench/dids', { rse: 'LAKE_S3', dids: [{ scope: 'wavefier', name: name(i), bytes: chunk.length, ...sums }] });
      if (response.status !== 201) throw new Error(`attach ${i} answered ${response.status}: ${await response.text()}`);
      await response.text();
    }));
    const get = await busy(() => pool(files, concurrency, async (i) => {
      const response = await s3.send(new GetObjectCommand({ Bucket: 'wavefier-lake', Key: lfn2pfnHash('wavefier', name(i)) }));
      await response.Body?.transformToByteArray();
    }));
    const fullDataset = await poll();
    const listStart = performance.now();
    await (await rucio('/replicas/list', { dids: [{ scope: 'wavefier', name: 'bench' }] })).text();
    const fullListingMs = performance.now() - listStart;
    s3.destroy();
    return {
      files,
      concurrency,
      attachPerSecond: Math.round(files / attach.seconds),
      s3PutPerSecond: Math.round(files / put.seconds),
      s3GetPerSecond: Math.round(files / get.seconds),
      lakeBusyMsPerRequest: {
        attach: Number((attach.busyMs / files).toFixed(3)),
        put: Number((put.busyMs / files).toFixed(3)),
        get: Number((get.busyMs / files).toFixed(3)),
      },
      lakeCapacityPerSecond: {
        attach: Math.round((1000 * files) / attach.busyMs),
        put: Math.round((1000 * files) / put.busyMs),
        get: Math.round((1000 * files) / get.busyMs),
      },
      emptyPollMs: { smallDataset: Number(smallDataset.toFixed(2)), fullDataset: Number(fullDataset.toFixed(2)) },
      fullListingMs: Number(fullListingMs.toFixed(1)),
    };
  } finally {
    worker.postMessage('stop');
    await new Promise((resolve) => worker.once('exit', resolve));
    await rm(dir, { recursive: true, force: true });
  }
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  const { dir } = workerData as { dir: string };
  const lake = await startLake({ dir, quiet: true });
  port.on('message', () => {
    void lake.close().then(() => process.exit(0));
  });
  port.postMessage(lake.settings);
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = Number(process.argv[2] ?? '3000');
  const result = await runLakeBenchmark({ files });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
