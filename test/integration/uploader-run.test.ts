import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { fetchVerified } from '../../src/rucio/index.js';
import { decodeChunk, openSource } from '../../src/strain/index.js';
import { runTag } from '../../src/common/run-id.js';
import { runUpload, type UploadRunOptions } from '../../src/uploader/index.js';
import { datasetContent, readEvents, startTestStack, syntheticUploadOptions, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeEach(async () => {
  stack = await startTestStack();
});
afterEach(async () => {
  await stack.dispose();
});

function options(overrides: Partial<UploadRunOptions> = {}): UploadRunOptions {
  return syntheticUploadOptions(stack, { source: { kind: 'synthetic', sampleRate: 4096, seed: 7 }, rateFactor: 200, count: 120, attempts: 6, ...overrides });
}

describe('wavefier upload (in process, real Redis and embedded lake)', () => {
  it('lands 120 paced chunks exactly once, with the checksums the catalog holds', async () => {
    const summary = await runUpload(options());
    expect(summary).toMatchObject({ scheduled: 120, enqueued: 120, uploaded: 120, failed: 0, skipped: 0, interrupted: false });

    const content = await datasetContent(stack.rucio, 'wavefier', summary.dataset);
    expect(content.size).toBe(120);
    const events = await readEvents(join(stack.dir, 'logs', summary.run), 'upload');
    const uploaded = events.filter((event) => event.event === 'uploaded');
    expect(uploaded).toHaveLength(120);
    expect(new Set(uploaded.map((event) => event.seq)).size).toBe(120);
    for (const event of uploaded) {
      expect(content.get(event.name as string)?.adler32).toBe(event.adler32);
      expect(event.t_uploaded as number).toBeGreaterThanOrEqual(event.t_avail as number);
      expect(event.t_enqueued as number).toBeGreaterThanOrEqual(event.t_avail as number);
    }
    // Names follow the IGWN convention on the run's own GPS timeline: consecutive seconds.
    const gps = uploaded.map((event) => event.gps as number).sort((a, b) => a - b);
    expect(gps.at(-1)! - gps[0]!).toBe(119);
    expect(uploaded[0]!.name).toMatch(new RegExp(`^H-H1_${runTag(summary.run)}-\\d{10}-1\\.hdf5$`));
    expect(events.filter((event) => event.event === 'run_started')).toHaveLength(1);
    // Warm before its schedule was fixed: storage opened and a throw-away job through BullMQ, ready once t0 was set.
    const ready = events.findIndex((event) => event.event === 'ready');
    expect(events[ready]).toMatchObject({ side: 'upload', run: summary.run, settings: { storage_warm: true, queue_warm: true } });
    expect(ready).toBe(events.findIndex((event) => event.event === 'run_started') + 1);
    expect(events.find((event) => event.event === 'run_finished')).toMatchObject({ counts: { uploaded: 120 } });
    const did = await stack.rucio.getDid('wavefier', summary.dataset);
    expect(did.open).toBe(false);
  });

  it('stores every sample bit for bit, and leaves no chunk data behind in Redis', async () => {
    const source = { kind: 'synthetic' as const, sampleRate: 4096, seed: 11 };
    const summary = await runUpload(options({ source, count: 24, asFastAsPossible: true }));
    expect(summary.uploaded).toBe(24);
    // One attach request per chunk at most: chunks that finish side by side share one (AttachBatcher).
    expect(summary.attachRequests).toBeGreaterThan(0);
    expect(summary.attachRequests).toBeLessThanOrEqual(24);

    const replicas = [];
    for await (const replica of stack.rucio.listReplicas({ dids: [{ scope: 'wavefier', name: summary.dataset }] })) replicas.push(replica);
    expect(replicas).toHaveLength(24);
    const reference = await openSource(source, { runId: summary.run, gpsStart: 0, duration: 1 });
    try {
      for (const replica of replicas) {
        const stored = decodeChunk((await fetchVerified(stack.rucio, replica)).bytes);
        expect(Buffer.from(stored.samples.buffer).equals(Buffer.from(reference.chunk(stored.seq).samples.buffer))).toBe(true);
      }
    } finally {
      reference.close();
    }
    // Samples wait in Redis beside their jobs only until the chunk's outcome is recorded.
    const redis = new Redis(stack.redis.url);
    try {
      expect(await redis.keys(`wavefier:run:${summary.run}:samples`)).toEqual([]);
      expect(await redis.keys('bull:*:*-[0-9]*')).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('retries through bursts of storage and catalog 5xx and loses nothing', async () => {
    stack.lake.faults.set({
      storage: [{ method: 'PUT', errorBurst: 6, status: 503 }],
      catalog: [{ path: '^/dids/[^/]+/[^/]+/dids$', method: 'POST', errorBurst: 6, status: 500 }],
    });
    const summary = await runUpload(options({ count: 40 }));
    expect(summary.uploaded).toBe(40);
    expect(summary.failed).toBe(0);
    const counters = stack.lake.faults.counters();
    expect(counters.storage.errors + counters.catalog.errors).toBeGreaterThanOrEqual(6);
    expect((await datasetContent(stack.rucio, 'wavefier', summary.dataset)).size).toBe(40);
  });

  it('logs a chunk that keeps failing as failed, with the reason, and counts it', async () => {
    stack.lake.faults.set({ storage: [{ method: 'PUT', errorRate: 1, status: 503 }] });
    const failing = await runUpload(options({ count: 2, attempts: 2, closeDataset: false }));
    expect(failing.uploaded).toBe(0);
    expect(failing.failed).toBe(2);
    const events = await readEvents(join(stack.dir, 'logs', failing.run), 'upload');
    const failed = events.filter((event) => event.event === 'failed');
    expect(failed).toHaveLength(2);
    expect(failed[0]!.error).toMatch(/503|unavailable|storage/i);
    expect(failed[0]!.attempts).toBe(2);
    expect(events.filter((event) => event.event === 'retry')).toHaveLength(2);
  });

  it('gives each run its own chunk names, so accelerated runs in one scope never collide', async () => {
    // Both runs start at the same GPS second and run ahead of real time: same GPS starts, other names.
    const first = await runUpload(options({ count: 5, asFastAsPossible: true, dataset: 'ds-first' }));
    const second = await runUpload(options({ count: 5, asFastAsPossible: true, dataset: 'ds-second' }));
    expect(first.uploaded).toBe(5);
    expect(second.uploaded).toBe(5);
    expect(second.failed).toBe(0);
  });

  it('keeps two concurrent runs on one Redis apart: each uploads and logs only its own chunks', async () => {
    const [a, b] = await Promise.all([
      runUpload(options({ count: 30, rateFactor: 100, dataset: 'ds-a' })),
      runUpload(options({ count: 30, rateFactor: 100, dataset: 'ds-b' })),
    ]);
    for (const summary of [a, b]) {
      expect(summary.uploaded).toBe(30);
      const events = await readEvents(join(stack.dir, 'logs', summary.run), 'upload');
      const uploaded = events.filter((event) => event.event === 'uploaded');
      expect(uploaded).toHaveLength(30);
      expect(new Set(uploaded.map((event) => event.run))).toEqual(new Set([summary.run]));
      expect((await datasetContent(stack.rucio, 'wavefier', summary.dataset)).size).toBe(30);
    }
  });

  it('skips chunks with NaN gaps by default and logs why', async () => {
    const { writeGwoscFile } = await import('../../src/strain/index.js');
    const file = join(stack.dir, 'gappy.hdf5');
    writeGwoscFile(file, {
      detector: 'H1',
      gpsStart: 1_126_259_446,
      duration: 4,
      sampleRate: 4096,
      sample: (index) => (index >= 4096 + 100 && index < 4096 + 200 ? Number.NaN : 1e-21),
    });
    const summary = await runUpload(options({ source: { kind: 'file', path: file, order: 'sequential' }, count: 4 }));
    expect(summary.uploaded).toBe(3);
    expect(summary.skipped).toBe(1);
    const events = await readEvents(join(stack.dir, 'logs', summary.run), 'upload');
    expect(events.find((event) => event.event === 'skipped')).toMatchObject({ seq: 1, reason: 'gap' });
  });

  it('stops pacing on abort within its budget, drains what is in flight and says it was interrupted', async () => {
    const controller = new AbortController();
    const runId = 'interrupted-1';
    const logFile = join(stack.dir, 'logs', runId, 'upload.jsonl');
    // Aborted once the run is under way (its first chunk landed), however slow the machine is today.
    const watcher = setInterval(() => {
      if (existsSync(logFile) && readFileSync(logFile, 'utf8').includes('"event":"uploaded"')) controller.abort();
    }, 20);
    let abortedAt = 0;
    controller.signal.addEventListener('abort', () => (abortedAt = Date.now()));
    const summary = await runUpload(options({ runId, rateFactor: 20, count: 1000, signal: controller.signal })).finally(() => clearInterval(watcher));
    const stopMs = Date.now() - abortedAt;
    expect(summary.interrupted).toBe(true);
    expect(summary.enqueued).toBeGreaterThan(0);
    expect(summary.enqueued).toBeLessThan(1000);
    // Uploads in flight get 2 s to land; what has no outcome by then is taken up by --resume.
    expect(summary.uploaded + summary.failed).toBeLessThanOrEqual(summary.enqueued);
    expect(summary.uploaded).toBeGreaterThan(0);
    expect(stopMs).toBeLessThan(5000);
    const events = await readEvents(join(stack.dir, 'logs', runId), 'upload');
    expect(events.at(-1)).toMatchObject({ event: 'run_finished', reason: 'interrupted', counts: { enqueued: summary.enqueued, uploaded: summary.uploaded } });
  });
});
