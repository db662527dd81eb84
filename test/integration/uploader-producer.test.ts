import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openEventLog, type EventLog } from '../../src/common/event-log.js';
import { bullmqConnection, connectRedis, startPrivateRedis, type PrivateRedis } from '../../src/redis/index.js';
import { openSource, type ChunkSource } from '../../src/strain/index.js';
import { chunkOf, parseUploadJob, uploadJobId, uploadQueueName } from '../../src/uploader/job.js';
import { Producer } from '../../src/uploader/producer.js';
import type { RunSettings } from '../../src/uploader/run-plan.js';
import { RunState } from '../../src/uploader/run-state.js';
import { RunStats } from '../../src/uploader/run-stats.js';
import { scratchDir } from '../fixtures/strain/files.js';

let server: PrivateRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startPrivateRedis({ persistence: 'none' });
  redis = await connectRedis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

let runCounter = 0;
let scratch: ReturnType<typeof scratchDir>;
let settings: RunSettings;
let queue: Queue;
let source: ChunkSource;
let log: EventLog;
let state: RunState;
let stats: RunStats;
let producer: Producer;

beforeEach(async () => {
  scratch = scratchDir('producer');
  const runId = `producer-run-${++runCounter}`;
  settings = {
    runId,
    t0: Date.now(),
    periodMs: 1000,
    rateFactor: 1,
    intervalMs: 1000,
    count: 10,
    gpsStart: 1_400_000_000,
    duration: 1,
    source: { kind: 'synthetic', sampleRate: 4096, seed: 3 },
    scope: 'wavefier',
    dataset: 'ds',
    rse: 'LAKE_S3',
    tag: 'WAVEFIER_TEST',
    latePolicy: 'catch-up',
    gapPolicy: 'skip',
    logDir: scratch.dir,
    createdAt: Date.now(),
  };
  queue = new Queue(uploadQueueName(runId), { connection: bullmqConnection(server.url) });
  source = await openSource({ kind: 'synthetic', sampleRate: 4096, seed: 3 }, { runId, gpsStart: settings.gpsStart, duration: 1 });
  log = openEventLog(join(scratch.dir, 'upload.jsonl'));
  state = await RunState.create(redis, settings);
  stats = new RunStats(Date.now);
  producer = new Producer({ queue, state, source, settings, log, stats, attempts: 3, now: Date.now, doneBefore: 0 });
});
afterEach(async () => {
  await queue.close();
  source.close();
  log.close();
  scratch.cleanup();
});

const tick = (seq: number, late = false): { seq: number; tAvail: number; late: boolean } => ({ seq, tAvail: settings.t0 + seq * 1000, late });

async function recordedEvents(): Promise<Record<string, unknown>[]> {
  return (await state.eventsAfter('0')).map((entry) => entry.event);
}

describe('the producer (real redis-server and BullMQ queue, no workers)', () => {
  it('enqueues a job that a worker on any host can upload: the chunk described in the job, its samples beside it', async () => {
    await producer.enqueue(tick(3));
    const job = await queue.getJob(uploadJobId(settings.runId, 3));
    expect(job).toBeDefined();
    expect(job!.opts.attempts).toBe(3);
    const data = parseUploadJob(job!.data);
    expect(data).toMatchObject({ run: settings.runId, seq: 3, scope: 'wavefier', dataset: 'ds', rse: 'LAKE_S3', tag: 'WAVEFIER_TEST', late: false });
    const samples = await state.samples(3, 4096);
    expect(samples).toBeDefined();
    // What a worker rebuilds from the job and the samples is the chunk the source gave.
    expect(chunkOf(data, samples!)).toEqual(source.chunk(3));
    expect(producer.enqueued).toBe(1);
    // Its pacing error is how long after its due time it went onto the queue.
    expect(stats.pacing.summary()).toMatchObject({ max: data.tEnqueued - data.tAvail });
  });

  it("sends a chunk's samples and then its job on one connection without waiting in between, the samples' retention with the first", async () => {
    // The queue's connection set up first: nothing else is in flight while MONITOR starts.
    await queue.waitUntilReady();
    await queue.count();
    const monitor = await redis.monitor();
    const seen: { command: string; seq: string | undefined; source: string }[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const command = (args[0] ?? '').toLowerCase();
      // The job's script carries the job id (run-seq) among its arguments; HSET carries the seq as its field.
      if (command === 'hset' && args[1]?.endsWith(':samples') === true) seen.push({ command, seq: args[2], source });
      if (command === 'evalsha' || command === 'eval') {
        // Its arguments are packed: the id is somewhere inside one of them.
        const id = new RegExp(`${settings.runId}-(\\d+)`).exec(args.join(' '));
        if (id !== null) seen.push({ command: 'job', seq: id[1], source });
      }
    });
    try {
      for (const seq of [1, 2, 3]) await producer.enqueue(tick(seq));
      await new Promise((done) => setTimeout(done, 50));
    } finally {
      monitor.disconnect();
    }
    expect(seen.map(({ command, seq }) => `${command} ${seq}`)).toEqual(['hset 1', 'job 1', 'hset 2', 'job 2', 'hset 3', 'job 3']);
    expect(new Set(seen.map(({ source }) => source)).size).toBe(1);
    for (const seq of [1, 2, 3]) {
      expect(await queue.getJob(uploadJobId(settings.runId, seq))).toBeDefined();
      expect(await state.samples(seq, 4096)).toEqual(source.chunk(seq).samples);
    }
    expect(await redis.ttl(`wavefier:run:${settings.runId}:samples`)).toBeGreaterThan(6 * 24 * 3600);
  });

  it('takes the job back out when Redis refused its samples: a job without samples would read as a chunk already done', async () => {
    // A key of the wrong type makes HSET fail while the job's script succeeds.
    await redis.set(`wavefier:run:${settings.runId}:samples`, 'not a hash');
    await expect(producer.enqueue(tick(4))).rejects.toThrow(/WRONGTYPE/);
    expect(await queue.getJob(uploadJobId(settings.runId, 4))).toBeUndefined();
    expect(producer.enqueued).toBe(0);
  });

  it('queues a batch of chunks (an unpaced run) as one HSET of their samples followed by their jobs, each chunk its own job', async () => {
    await queue.waitUntilReady();
    await queue.count();
    const monitor = await redis.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      const command = (args[0] ?? '').toLowerCase();
      if (command === 'hset' && args[1]?.endsWith(':samples') === true) {
        // The fields: every other argument after the key.
        seen.push(`hset ${args.slice(2).filter((_arg, index) => index % 2 === 0).join(',')}`);
      }
      if (command === 'evalsha' || command === 'eval') {
        const id = new RegExp(`${settings.runId}-(\\d+)`).exec(args.join(' '));
        if (id !== null) seen.push(`job ${id[1]}`);
      }
    });
    try {
      await producer.enqueueBatch([0, 1, 2, 3].map((seq) => tick(seq)));
      await new Promise((done) => setTimeout(done, 50));
    } finally {
      monitor.disconnect();
    }
    expect(seen).toEqual(['hset 0,1,2,3', 'job 0', 'job 1', 'job 2', 'job 3']);
    for (const seq of [0, 1, 2, 3]) {
      const job = await queue.getJob(uploadJobId(settings.runId, seq));
      expect(job!.opts).toMatchObject({ attempts: 3, removeOnComplete: true, removeOnFail: true, backoff: { type: 'exponential', delay: 500 } });
      const data = parseUploadJob(job!.data);
      expect(data.seq).toBe(seq);
      expect(chunkOf(data, (await state.samples(seq, 4096))!)).toEqual(source.chunk(seq));
    }
    expect(producer.enqueued).toBe(4);
    // Chunk 0 was in it: where a resumed run starts moved past the whole batch.
    expect(await redis.hget(`wavefier:run:${settings.runId}`, 'next')).toBe('4');
    expect(await redis.ttl(`wavefier:run:${settings.runId}:samples`)).toBeGreaterThan(6 * 24 * 3600);
  });

  it('takes every job of a batch back out when Redis refused their samples', async () => {
    await redis.set(`wavefier:run:${settings.runId}:samples`, 'not a hash');
    await expect(producer.enqueueBatch([4, 5, 6].map((seq) => tick(seq)))).rejects.toThrow(/WRONGTYPE/);
    for (const seq of [4, 5, 6]) expect(await queue.getJob(uploadJobId(settings.runId, seq))).toBeUndefined();
    expect(producer.enqueued).toBe(0);
  });

  it('queues the chunks of a batch before one that stops the run (a gap under --on-gap fail), and records that one as failed', async () => {
    // The real source, with NaN samples (a gap) in chunk 2.
    const gappy = {
      chunk: (seq: number) => {
        const chunk = source.chunk(seq);
        if (seq !== 2) return chunk;
        const samples = chunk.samples.slice();
        samples.fill(Number.NaN, 100, 200);
        return { ...chunk, samples };
      },
    } as unknown as ChunkSource;
    const failing = new Producer({ queue, state, source: gappy, settings: { ...settings, gapPolicy: 'fail' }, log, stats, attempts: 3, now: Date.now, doneBefore: 0 });
    await expect(failing.enqueueBatch([0, 1, 2, 3].map((seq) => tick(seq)))).rejects.toThrow(/100 NaN samples/);
    expect(failing.enqueued).toBe(2);
    for (const seq of [0, 1]) expect(await queue.getJob(uploadJobId(settings.runId, seq))).toBeDefined();
    for (const seq of [2, 3]) expect(await queue.getJob(uploadJobId(settings.runId, seq))).toBeUndefined();
    expect(await state.has('failed', 2)).toBe(true);
  });

  it('warms up on the chunk it will queue first without queuing, recording or logging anything, even for a chunk that would stop the run', async () => {
    const read: number[] = [];
    const gappy = {
      chunk: (seq: number) => {
        read.push(seq);
        const chunk = source.chunk(seq);
        const samples = chunk.samples.slice();
        samples.fill(Number.NaN, 100, 200);
        return { ...chunk, samples };
      },
    } as unknown as ChunkSource;
    for (const gapPolicy of ['skip', 'fail'] as const) {
      const warming = new Producer({ queue, state, source: gappy, settings: { ...settings, gapPolicy }, log, stats, attempts: 3, now: Date.now, doneBefore: 0 });
      expect(() => warming.warmUp(5, 3)).not.toThrow();
      expect(warming.enqueued).toBe(0);
    }
    producer.warmUp(0, 3);
    // Chunk 5 read until the policy refused it (skip: every round; fail: the first round ends the warm-up).
    expect(read).toEqual([5, 5, 5, 5]);
    expect(producer.enqueued).toBe(0);
    expect(Object.values(await queue.getJobCounts()).filter((count) => count > 0)).toEqual([]);
    expect(await state.counts()).toEqual({});
    expect(await recordedEvents()).toEqual([]);
    expect(await state.samples(0, 4096)).toBeUndefined();
    log.flush();
    expect(readFileSync(log.path, 'utf8')).toBe('');
  });

  it('counts its queue depth from the run counters and waits for room while the queue is full', async () => {
    for (const seq of [0, 1, 2]) await producer.enqueue(tick(seq));
    expect(producer.inQueue(await state.counts())).toBe(3);

    let roomMade = false;
    const waiting = producer.waitForRoom(3, new AbortController().signal).then(() => (roomMade = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(roomMade).toBe(false);
    // A worker somewhere finishes chunk 0.
    await state.record('uploaded', 0, { event: 'uploaded', seq: 0 });
    await waiting;
    expect(producer.inQueue(await state.counts())).toBe(2);
  });

  it('stops waiting for room when the run is stopped', async () => {
    await producer.enqueue(tick(0));
    const controller = new AbortController();
    const waiting = producer.waitForRoom(1, controller.signal);
    controller.abort();
    await expect(waiting).resolves.toBeUndefined();
  });

  it('logs a chunk the pacer skipped as late, with the reason, and enqueues nothing for it', async () => {
    await producer.skip(tick(4, true), 'late', 'emitted too late for its slot (--late skip)');
    // Late as the report counts it: once per chunk, with its outcome line flagged late.
    expect((await state.counts()).late).toBe(1);
    expect(producer.enqueued).toBe(0);
    expect(await state.has('skipped', 4)).toBe(true);
    const events = await recordedEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event: 'skipped', seq: 4, reason: 'late', late: true, gps: 1_400_000_004 });
    expect(events[0]!.name).toMatch(/_WAVEFIER_TEST-1400000004-1\.hdf5$/);
    expect(await queue.getJob(uploadJobId(settings.runId, 4))).toBeUndefined();
  });

  it('reconciles: a chunk lost from the queue is enqueued again; one nobody uploads is logged as failed and taken off the queue', async () => {
    for (const seq of [0, 1, 2]) await producer.enqueue(tick(seq));
    await state.record('uploaded', 0, { event: 'uploaded', seq: 0 });
    // Chunk 1's job is lost (a Redis restart without persistence); chunk 2's still waits for a worker.
    await queue.remove(uploadJobId(settings.runId, 1));

    await producer.reconcile(3, 300);

    log.flush();
    const diagnostics = readFileSync(log.path, 'utf8');
    expect(diagnostics.match(/chunk lost from the queue, enqueuing it again/g)).toHaveLength(1);
    expect(diagnostics).toContain('"seq":1');
    expect(producer.enqueued).toBe(4);
    const failed = (await recordedEvents()).filter((event) => event.event === 'failed');
    expect(failed.map((event) => event.seq)).toEqual([1, 2]);
    expect(failed[0]!.error).toBe('not uploaded within the drain timeout (300 ms) after the last chunk; is an upload worker running?');
    expect(await state.unaccounted(3)).toEqual([]);
    // A chunk logged as failed must not be uploaded behind the log's back.
    expect(await queue.getJob(uploadJobId(settings.runId, 1))).toBeUndefined();
    expect(await queue.getJob(uploadJobId(settings.runId, 2))).toBeUndefined();
  });

  it('drains without waiting once every chunk has its outcome', async () => {
    await producer.enqueue(tick(0));
    await state.record('uploaded', 0, { event: 'uploaded', seq: 0 });
    const started = Date.now();
    await producer.drain(1, 30_000);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await state.unaccounted(1)).toEqual([]);
  });
});

describe('the run state on a fresh Redis (a private redis-server)', () => {
  it('loads the script that records outcomes before any outcome, writing no key, and records with it afterwards', async () => {
    const fresh = await startPrivateRedis({ persistence: 'none' });
    const client = await connectRedis(fresh.url);
    try {
      const cachedScripts = async (): Promise<number> => Number(/number_of_cached_scripts:(\d+)/.exec(await client.info('memory'))?.[1]);
      expect(await cachedScripts()).toBe(0);
      expect(await RunState.loadScripts(client)).toBe(true);
      expect(await cachedScripts()).toBe(1);
      expect(await client.dbsize()).toBe(0);
      const fresher = await RunState.create(client, { ...settings, runId: 'scripts-loaded' });
      expect(await fresher.record('uploaded', 0, { event: 'uploaded', seq: 0 })).toBe(true);
      expect(await fresher.has('uploaded', 0)).toBe(true);
      // The same script: nothing was compiled again for the record.
      expect(await cachedScripts()).toBe(1);
    } finally {
      client.disconnect();
      await fresh.stop();
    }
  });

  it('answers false, without throwing, when Redis is gone', async () => {
    const gone = await startPrivateRedis({ persistence: 'none' });
    const client = await connectRedis(gone.url);
    await gone.stop();
    try {
      expect(await RunState.loadScripts(client)).toBe(false);
    } finally {
      client.disconnect();
    }
  });
});
