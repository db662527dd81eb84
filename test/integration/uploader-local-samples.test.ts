import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEventLog, type EventLog } from '../../src/common/event-log.js';
import { bullmqConnection, connectRedis } from '../../src/redis/index.js';
import { fetchVerified } from '../../src/rucio/index.js';
import { decodeChunk, openSource, type ChunkSource } from '../../src/strain/index.js';
import { uploadQueueName } from '../../src/uploader/job.js';
import { LocalSamples } from '../../src/uploader/local-samples.js';
import { Producer } from '../../src/uploader/producer.js';
import { ensureDataset, type RunSettings } from '../../src/uploader/run-plan.js';
import { RunState } from '../../src/uploader/run-state.js';
import { RunStats } from '../../src/uploader/run-stats.js';
import { startUploadWorker } from '../../src/uploader/upload-worker.js';
import { datasetContent, startTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let redis: Redis;
let queue: Queue;
let source: ChunkSource;
let log: EventLog;
let worker: Worker | undefined;
let settings: RunSettings;
let state: RunState;
let local: LocalSamples;
let producer: Producer;

beforeEach(async () => {
  stack = await startTestStack();
  redis = await connectRedis(stack.redis.url);
  settings = {
    runId: 'local-samples-run',
    t0: Date.now(),
    periodMs: 1000,
    rateFactor: 1,
    intervalMs: 0,
    count: 4,
    gpsStart: 1_400_000_000,
    duration: 1,
    source: { kind: 'synthetic', sampleRate: 4096, seed: 9 },
    scope: 'wavefier',
    dataset: 'local-samples',
    rse: 'LAKE_S3',
    tag: 'WAVEFIER_TEST',
    latePolicy: 'catch-up',
    gapPolicy: 'skip',
    logDir: stack.dir,
    createdAt: Date.now(),
  };
  await ensureDataset(stack.rucio, settings);
  queue = new Queue(uploadQueueName(settings.runId), { connection: bullmqConnection(stack.redis.url) });
  source = await openSource({ kind: 'synthetic', sampleRate: 4096, seed: 9 }, { runId: settings.runId, gpsStart: settings.gpsStart, duration: 1 });
  log = openEventLog(join(stack.dir, 'upload.jsonl'));
  state = await RunState.create(redis, settings);
  local = new LocalSamples();
  producer = new Producer({ queue, state, source, settings, log, stats: new RunStats(Date.now), attempts: 3, now: Date.now, doneBefore: 0, localSamples: local });
});
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await queue.close();
  source.close();
  log.close();
  redis.disconnect();
  await stack.dispose();
});

const tick = (seq: number): { seq: number; tAvail: number; late: boolean } => ({ seq, tAvail: Date.now(), late: false });
const samplesKey = (): string => `wavefier:run:${settings.runId}:samples`;

function startWorker(): void {
  worker = startUploadWorker({ run: settings.runId, redisUrl: stack.redis.url, redis, rucio: stack.rucio, localSamples: local, concurrency: 2, logFor: () => log });
}

async function until(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

describe('samples handed to the upload workers of the producer\'s own process (real Redis, BullMQ and embedded lake)', () => {
  it("uploads a job's first delivery from the samples at hand, and a chunk queued by another process from Redis, bit for bit", async () => {
    await producer.enqueue(tick(0));
    await producer.enqueue(tick(1));
    // Chunk 0's copy in Redis is gone: only the local samples can upload it. Chunk 1 was queued
    // by another process (nothing local): Redis has it.
    await redis.hdel(samplesKey(), '0');
    local.drop(settings.runId, 1);
    startWorker();
    await until(async () => (await state.has('uploaded', 0)) && (await state.has('uploaded', 1)));

    expect(local.size).toBe(0);
    const replicas = [];
    for await (const replica of stack.rucio.listReplicas({ dids: [{ scope: 'wavefier', name: settings.dataset }] })) replicas.push(replica);
    expect(replicas).toHaveLength(2);
    for (const replica of replicas) {
      const stored = decodeChunk((await fetchVerified(stack.rucio, replica)).bytes);
      expect(Buffer.from(stored.samples.buffer).equals(Buffer.from(source.chunk(stored.seq).samples.buffer))).toBe(true);
    }
    // Recording the outcomes dropped what Redis held.
    expect(await redis.hlen(samplesKey())).toBe(0);
  });

  it('sends a retried job to Redis, whose missing samples say the chunk is not this attempt\'s to upload', async () => {
    // Every storage attempt of the first delivery fails (the client tries 3 times): the job is retried.
    stack.lake.faults.set({ storage: [{ method: 'PUT', errorBurst: 3, status: 503 }] });
    await producer.enqueue(tick(2));
    await redis.hdel(samplesKey(), '2');
    startWorker();
    await until(async () => readFileSync(join(stack.dir, 'upload.jsonl'), 'utf8').includes('chunk samples missing from Redis'));

    expect(await state.has('uploaded', 2)).toBe(false);
    expect((await datasetContent(stack.rucio, 'wavefier', settings.dataset)).size).toBe(0);
    const lines = readFileSync(join(stack.dir, 'upload.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.find((line) => line.event === 'retry')).toMatchObject({ seq: 2, attempts: 1 });
  });
});
