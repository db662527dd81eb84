import { readFile, readdir } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Output } from '../../src/common/output.js';
import { startPrivateRedis, type PrivateRedis } from '../../src/redis/index.js';
import type { UploadRunOptions } from '../../src/uploader/index.js';
import { RucioClient, loadRucioConfig, type RucioConfig } from '../../src/rucio/index.js';
import { startTestLake, type TestLake } from './lake.js';

/** A whole rehearsal stack for a test: embedded lake, private redis-server, a Rucio client, a work dir. */
export interface TestStack {
  lake: TestLake;
  redis: PrivateRedis;
  config: RucioConfig;
  rucio: RucioClient;
  dir: string;
  /** Environment for spawned `bin/wavefier` processes: RUCIO_HOME points at the lake. */
  env: NodeJS.ProcessEnv;
  output: Output;
  stderr(): string;
  dispose(): Promise<void>;
}

export async function startTestStack(options: { redisPersistence?: 'aof' | 'none' } = {}): Promise<TestStack> {
  const dir = await mkdtemp(join(tmpdir(), 'wavefier-stack-'));
  const lake = await startTestLake({ dir: join(dir, 'lake') });
  const redis = await startPrivateRedis({ persistence: options.redisPersistence ?? 'none' });
  const env = { RUCIO_HOME: lake.settings.rucioHome };
  const config = await loadRucioConfig({ env });
  const rucio = new RucioClient(config);
  let captured = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      captured += chunk.toString('utf8');
      callback();
    },
  });
  const output = new Output({ json: false, debug: false, stdout: sink, stderr: sink, env: { CI: '1' } });
  return {
    lake,
    redis,
    config,
    rucio,
    dir,
    env,
    output,
    stderr: () => captured,
    async dispose() {
      await rucio.close();
      await redis.stop();
      await lake.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every JSON line of every `<prefix>*.jsonl` file in `runDir`. */
/**
 * An in-process upload of synthetic chunks into the stack's lake (LAKE_S3) through its Redis, with
 * the settings every integration test shares; each test names what it varies (seed, rate, count...).
 */
export function syntheticUploadOptions(stack: TestStack, overrides: Partial<UploadRunOptions> = {}): UploadRunOptions {
  return {
    redisUrl: stack.redis.url,
    rucio: stack.rucio,
    source: { kind: 'synthetic', sampleRate: 4096, seed: 3 },
    periodMs: 1000,
    rateFactor: 50,
    asFastAsPossible: false,
    count: 40,
    alignGps: false,
    latePolicy: 'catch-up',
    gapPolicy: 'skip',
    scope: 'wavefier',
    rse: 'LAKE_S3',
    closeDataset: true,
    workers: 4,
    attempts: 5,
    logDir: join(stack.dir, 'logs'),
    drainTimeoutMs: 30_000,
    signal: new AbortController().signal,
    output: stack.output,
    ...overrides,
  };
}

export async function readEvents(runDir: string, prefix: 'upload' | 'download'): Promise<Record<string, unknown>[]> {
  const files = (await readdir(runDir)).filter((file) => file.startsWith(prefix) && file.endsWith('.jsonl'));
  const events: Record<string, unknown>[] = [];
  for (const file of files) {
    const text = await readFile(join(runDir, file), 'utf8');
    for (const line of text.split('\n')) if (line.trim() !== '') events.push(JSON.parse(line) as Record<string, unknown>);
  }
  return events;
}

/** The files attached to a dataset, by name, as the catalog lists them. */
export async function datasetContent(rucio: RucioClient, scope: string, dataset: string): Promise<Map<string, { adler32?: string | null | undefined }>> {
  const names = new Map<string, { adler32?: string | null | undefined }>();
  for await (const entry of rucio.listContent(scope, dataset)) names.set(entry.name, { adler32: entry.adler32 });
  return names;
}

/** Tampers with a stored object through the lake's admin API, as a fault in storage would. */
export async function tamperObject(stack: TestStack, action: 'corrupt' | 'delete', scope: string, name: string, rse = 'LAKE_S3'): Promise<void> {
  const response = await fetch(`${stack.lake.settings.rucioHost}/.lake/objects/${action}`, {
    method: 'POST',
    headers: { 'X-Lake-Admin-Token': stack.lake.settings.adminToken, 'Content-Type': 'application/json' },
    body: JSON.stringify({ scope, name, rse }),
  });
  if (!response.ok) throw new Error(`lake ${action} of ${name} failed: ${response.status} ${await response.text()}`);
}
