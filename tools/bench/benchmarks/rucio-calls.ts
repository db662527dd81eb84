import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { checksums } from '../../../src/common/checksum.js';
import { startLake } from '../../../src/lake/index.js';
import { startLakeProcess } from '../../../src/rehearse/index.js';
import {
  RucioClient,
  fetchVerified,
  loadRucioConfig,
  rucioConfigFrom,
  uploadFile,
  writeFileAtomically,
  type ClientStats,
  type ReplicaRecord,
} from '../../../src/rucio/index.js';

import type { Benchmark, Metric } from '../types.js';

type BenchResult = Metric;

const chunkBytes = 32 * 1024;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
}

function delta(before: ClientStats, after: ClientStats): { catalog: number; storage: Record<string, number> } {
  const storage: Record<string, number> = {};
  for (const [key, value] of Object.entries(after.storage)) storage[key] = value - (before.storage[key] ?? 0);
  return { catalog: after.requests - before.requests, storage };
}

/**
 * REST calls and wall time per uploaded and per downloaded 32 KiB chunk against the embedded lake
 * (LAKE_S3, loopback), sequentially and with 8 in flight, after a warm-up that fills the RSE and
 * token caches. Target: exactly 1 catalog call + 1 storage PUT per upload; median upload < 10 ms.
 * Measured twice: lake in this process (what `rehearse` does), and lake in a child process
 * (`wavefier lake serve`), which shows the client's own cost without the server's CPU.
 */
async function run(options: { uploads?: number; warmup?: number } = {}): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'wavefier-bench-rucio-'));
  const results: BenchResult[] = [];
  try {
    const lake = await startLake({ dir: join(dir, 'lake'), quiet: true });
    const client = new RucioClient(rucioConfigFrom({ ...lake.settings, tokenCacheDir: join(dir, 'tokens') }));
    try {
      results.push(...(await measure(client, join(dir, 'down-in'), 'lake in-process', options)));
    } finally {
      await client.close();
      await lake.close();
    }
    const child = await startLakeProcess(join(dir, 'lake2'), { ...process.env }, () => undefined);
    const remote = new RucioClient(await loadRucioConfig({ env: { RUCIO_HOME: child.settings.rucioHome }, flags: { tokenCacheDir: join(dir, 'tokens') } }));
    try {
      results.push(...(await measure(remote, join(dir, 'down-out'), 'lake in a child process', options)));
    } finally {
      await remote.close();
      await child.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

async function measure(client: RucioClient, downDir: string, where: string, options: { uploads?: number; warmup?: number }): Promise<BenchResult[]> {
  const n = options.uploads ?? 300;
  const warmup = options.warmup ?? 20;
  const results: BenchResult[] = [];
  const scope = 'wavefier';
  const dataset = { scope, name: `bench.${Date.now()}` };
  await client.addDataset(scope, dataset.name);
  const rse = 'LAKE_S3';
  const makeChunk = (name: string): { name: string; bytes: Buffer } => ({ name, bytes: randomBytes(chunkBytes) });

  for (let i = 0; i < warmup; i++) {
    const c = makeChunk(`warm-${i}`);
    await uploadFile(client, { scope, name: c.name, bytes: c.bytes, dataset, rse });
  }

  const measureUploads = async (label: string, width: number): Promise<void> => {
    const chunks = Array.from({ length: n }, (_, i) => makeChunk(`${label}-${i}`));
    const latencies: number[] = [];
    const before = client.stats;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await pool(chunks, width, async (c) => {
      const t0 = performance.now();
      await uploadFile(client, { scope, name: c.name, bytes: c.bytes, dataset, rse, checksums: checksums(c.bytes) });
      latencies.push(performance.now() - t0);
    });
    const wall = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const d = delta(before, client.stats);
    latencies.sort((a, b) => a - b);
    const tag = `${width === 1 ? 'sequential' : `${width} in flight`}, ${where}`;
    results.push(
      { name: `rucio upload catalog calls per chunk (${tag})`, value: round(d.catalog / n), unit: 'calls', target: '== 1' },
      { name: `rucio upload storage PUTs per chunk (${tag})`, value: round((d.storage['s3 PUT'] ?? 0) / n), unit: 'calls', target: '== 1' },
      { name: `rucio upload median latency (${tag})`, value: round(quantile(latencies, 0.5)), unit: 'ms', ...(width === 1 ? { target: '< 10' } : {}) },
      { name: `rucio upload p99 latency (${tag})`, value: round(quantile(latencies, 0.99)), unit: 'ms' },
      { name: `rucio upload wall time per chunk (${tag})`, value: round(wall / n), unit: 'ms' },
      { name: `rucio upload process CPU per chunk (${tag})`, value: round((used.user + used.system) / 1000 / n), unit: 'ms' },
    );
  };
  await measureUploads('seq', 1);
  await measureUploads('par', 8);

  const listStarted = performance.now();
  const before = client.stats;
  const replicas: ReplicaRecord[] = [];
  for await (const r of client.listReplicas({ dids: [dataset], rseExpression: rse })) replicas.push(r);
  const listMs = performance.now() - listStarted;
  results.push(
    { name: `rucio list replicas of ${replicas.length} files (${where})`, value: round(listMs), unit: 'ms' },
    { name: `rucio list replicas catalog calls (${where})`, value: delta(before, client.stats).catalog, unit: 'calls', target: '== 1' },
  );

  const measureDownloads = async (subset: ReplicaRecord[], width: number): Promise<void> => {
    const dest = join(downDir, String(width));
    const latencies: number[] = [];
    const b = client.stats;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await pool(subset, width, async (replica) => {
      const t0 = performance.now();
      const fetched = await fetchVerified(client, replica);
      await writeFileAtomically(dest, replica.name, fetched.bytes);
      latencies.push(performance.now() - t0);
    });
    const wall = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const d = delta(b, client.stats);
    latencies.sort((x, y) => x - y);
    const tag = `${width === 1 ? 'sequential' : `${width} in flight`}, ${where}`;
    results.push(
      { name: `rucio download catalog calls per chunk after one listing (${tag})`, value: round(d.catalog / subset.length), unit: 'calls', target: '== 0' },
      { name: `rucio download storage GETs per chunk (${tag})`, value: round((d.storage['s3 GET'] ?? 0) / subset.length), unit: 'calls', target: '== 1' },
      { name: `rucio download median latency incl. verify + atomic write (${tag})`, value: round(quantile(latencies, 0.5)), unit: 'ms' },
      { name: `rucio download p99 latency (${tag})`, value: round(quantile(latencies, 0.99)), unit: 'ms' },
      { name: `rucio download wall time per chunk (${tag})`, value: round(wall / subset.length), unit: 'ms' },
      { name: `rucio download process CPU per chunk (${tag})`, value: round((used.user + used.system) / 1000 / subset.length), unit: 'ms' },
    );
  };
  await measureDownloads(replicas.slice(0, n), 1);
  await measureDownloads(replicas.slice(n, 2 * n), 8);
  return results;
}

export const rucioCalls: Benchmark = {
  name: 'rucio-calls',
  title: 'Rucio client: REST calls and time per uploaded and downloaded chunk',
  description:
    'Uploads and downloads 32 KiB chunks through src/rucio against the embedded lake (LAKE_S3) over loopback, sequentially ' +
    'and with 8 in flight, counting catalog requests and storage operations per chunk after warm-up.',
  run: () => run(),
};
