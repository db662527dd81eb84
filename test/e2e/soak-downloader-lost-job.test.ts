import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bullmqConnection, connectRedis } from '../../src/redis/index.js';
import { runCli, wavefierBin } from '../helpers/cli.js';
import { readEvents, startTestStack, type TestStack } from '../helpers/stack.js';

/**
 * Found by the soak (a 14,400-chunk run, second Redis restart): two download jobs had no key in Redis
 * any more when their worker finished them ("Missing key for job dl-...-0. moveToFinished"), BullMQ
 * emitted only a worker 'error', and `wavefier download --until-closed` waited for them forever.
 * A queue can lose jobs (a Redis crash loses up to 1 s of writes with appendfsync everysec); the
 * downloader must notice that a pending chunk has no job any more and enqueue it again.
 */
let stack: TestStack;
beforeEach(async () => {
  stack = await startTestStack();
});
afterEach(async () => {
  await stack.dispose();
});

describe('downloader, when the queue loses a job (soak finding)', () => {
  it('still verifies every chunk of a closed dataset and stops', async () => {
    const logDir = join(stack.dir, 'logs');
    const common = ['--redis', stack.redis.url, '--log-dir', logDir, '--scope', 'wavefier'];
    const upload = await runCli(
      ['upload', ...common, '--run-id', 'lost', '--dataset', 'ds-lost', '--rse', 'LAKE_S3', '--source', 'synthetic', '--count', '12', '--as-fast-as-possible', '--workers', '2', '--close-dataset'],
      { env: stack.env, timeoutMs: 60_000 },
    );
    expect(upload.code, upload.stderr).toBe(0);

    // Slow reads keep the chunks waiting in the download queue, so one can be lost from it.
    stack.lake.faults.set({ storage: [{ method: 'GET', latencyMs: 1500 }] });
    const started = Date.now();
    const download = spawn(
      process.execPath,
      [wavefierBin, 'download', ...common, '--dataset', 'ds-lost', '--run-name', 'lost', '--workers', '1', '--keep', 'none', '--until-closed', '--duration', '15s'],
      { env: { ...process.env, ...stack.env, CI: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    download.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => download.on('close', (code) => resolve(code)));

    // The downloader's queue has a name of its own; find it in Redis.
    const redis = await connectRedis(stack.redis.url);
    let queueName: string | undefined;
    for (let tries = 0; tries < 200 && queueName === undefined; tries++) {
      const keys = await redis.keys('bull:wavefier-download-wavefier-ds-lost-*:meta');
      queueName = keys[0]?.slice('bull:'.length, -':meta'.length);
      if (queueName === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    redis.disconnect();
    expect(queueName).toBeDefined();
    const queue = new Queue(queueName!, { connection: bullmqConnection(stack.redis.url) });
    let lost: string | undefined;
    try {
      for (let tries = 0; tries < 200 && lost === undefined; tries++) {
        const waiting = (await queue.getWaiting()).filter((job) => job.name === 'chunk');
        const victim = waiting.at(-1);
        if (waiting.length >= 2 && victim !== undefined) {
          await victim.remove();
          lost = (victim.data as { name: string }).name;
        } else {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    } finally {
      await queue.close();
    }
    expect(lost).toBeDefined();
    stack.lake.faults.clear();

    const code = await exited;
    const elapsed = Date.now() - started;
    const verified = (await readEvents(join(logDir, 'lost'), 'download')).filter((event) => event.event === 'verified').map((event) => event.name);
    expect(verified, stderr.slice(-2000)).toContain(lost);
    expect(new Set(verified).size).toBe(12);
    expect(code).toBe(0);
    // It stopped because everything was handled, not because --duration ran out.
    expect(elapsed).toBeLessThan(14_500);
  }, 90_000);
});
