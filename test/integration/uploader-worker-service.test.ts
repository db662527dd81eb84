import { readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/redis/index.js';
import { runUpload, serveUploadWorkers } from '../../src/uploader/index.js';
import { RunState } from '../../src/uploader/run-state.js';
import { datasetContent, startTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeEach(async () => {
  stack = await startTestStack();
});
afterEach(async () => {
  await stack.dispose();
});

describe('the upload-worker service (real Redis and embedded lake)', () => {
  it('uploads the chunks of a run whose producer has no workers, counts them, and stops cleanly on the signal', async () => {
    const logDir = join(stack.dir, 'logs');
    const stop = new AbortController();
    const serving = serveUploadWorkers({ redisUrl: stack.redis.url, rucio: stack.rucio, workers: 2, logDir, signal: stop.signal, output: stack.output });

    const summary = await runUpload({
      redisUrl: stack.redis.url,
      rucio: stack.rucio,
      source: { kind: 'synthetic', sampleRate: 4096, seed: 5 },
      periodMs: 1000,
      rateFactor: 1,
      asFastAsPossible: true,
      count: 12,
      alignGps: false,
      latePolicy: 'catch-up',
      gapPolicy: 'skip',
      scope: 'wavefier',
      rse: 'LAKE_S3',
      closeDataset: false,
      workers: 0,
      attempts: 3,
      logDir,
      drainTimeoutMs: 30_000,
      signal: new AbortController().signal,
      output: stack.output,
    });
    expect(summary).toMatchObject({ uploaded: 12, failed: 0 });
    expect((await datasetContent(stack.rucio, 'wavefier', summary.dataset)).size).toBe(12);

    stop.abort();
    const counts = await serving;
    expect(counts).toMatchObject({ uploaded: 12, failed: 0 });
    // One attach request per chunk at most: the two workers' chunks that finish side by side share one.
    expect(counts.attachRequests).toBeGreaterThan(0);
    expect(counts.attachRequests).toBeLessThanOrEqual(12);
    const said = stack.stderr();
    expect(said).toMatch(/upload-worker .+ following the active upload runs on redis:\/\/.+ with 2 workers per run/);
    expect(said).toContain(`run ${summary.run}: serving`);
    // It warmed the run's storage with a PUT the storage refused: the lake holds the 12 chunks, nothing more.
    expect(said).toContain(`run ${summary.run}: storage on LAKE_S3 warmed up`);
    const stored = (await readdir(join(stack.dir, 'lake', 's3'), { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
    expect(stored).toHaveLength(12);
    // Its notes on the run (retries) go to a file of its own beside the producer's log, made with the
    // first note: none here, so no empty file for `report` to warn about.
    expect(await readdir(join(logDir, summary.run))).not.toContain(`upload-${hostname()}-${process.pid}.jsonl`);
    expect(await readdir(join(logDir, summary.run))).toContain('upload.jsonl');
  });

  it('leaves alone a run that uploads to another Rucio server', async () => {
    const redis = await connectRedis(stack.redis.url);
    try {
      const state = await RunState.create(redis, {
        runId: 'elsewhere-run',
        t0: Date.now(),
        periodMs: 1000,
        rateFactor: 1,
        intervalMs: 1000,
        gpsStart: 1_400_000_000,
        duration: 1,
        source: { kind: 'synthetic', sampleRate: 4096, seed: 1 },
        scope: 'wavefier',
        dataset: 'ds',
        rse: 'LAKE_S3',
        tag: 'T',
        latePolicy: 'catch-up',
        gapPolicy: 'skip',
        logDir: stack.dir,
        createdAt: Date.now(),
        rucioHost: 'https://rucio.elsewhere.example',
      });
      await state.setStatus('running');
      const stop = new AbortController();
      const serving = serveUploadWorkers({
        redisUrl: stack.redis.url,
        rucio: stack.rucio,
        workers: 1,
        logDir: join(stack.dir, 'logs'),
        signal: stop.signal,
        output: stack.output,
      });
      await expect.poll(() => stack.stderr(), { timeout: 10_000, interval: 50 }).toContain('run elsewhere-run: skipped');
      expect(stack.stderr()).toContain(`(it uploads to https://rucio.elsewhere.example, this worker to ${stack.rucio.config.rucioHost})`);
      stop.abort();
      await expect(serving).resolves.toEqual({ uploaded: 0, failed: 0, attachRequests: 0 });
    } finally {
      redis.disconnect();
    }
  });

  it('fails with the reason when Redis cannot be reached', async () => {
    const stop = new AbortController();
    await expect(
      serveUploadWorkers({ redisUrl: 'redis://127.0.0.1:1', rucio: stack.rucio, workers: 1, logDir: stack.dir, signal: stop.signal, output: stack.output }),
    ).rejects.toThrow(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });
});
