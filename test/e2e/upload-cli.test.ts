import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, wavefierBin } from '../helpers/cli.js';
import { datasetContent, readEvents, startTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
const children: ChildProcess[] = [];
beforeEach(async () => {
  stack = await startTestStack({ redisPersistence: 'aof' });
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await stack.dispose();
});

function spawnWavefier(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [wavefierBin, ...args], {
    env: { ...process.env, ...stack.env, CI: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

/** Waits until the run's upload logs hold at least `count` uploaded chunks (the run is under way). */
async function waitForUploads(run: string, count: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const events = await readEvents(join(stack.dir, 'logs', run), 'upload').catch(() => []);
    if (events.filter((event) => event.event === 'uploaded').length >= count) return;
    await sleep(100);
  }
  throw new Error(`run ${run} did not upload ${count} chunks within ${timeoutMs} ms`);
}

/** Exactly-once check over every upload log of the run and the catalog. */
async function expectExactlyOnce(run: string, dataset: string, count: number): Promise<void> {
  const events = await readEvents(join(stack.dir, 'logs', run), 'upload');
  const uploaded = events.filter((event) => event.event === 'uploaded').map((event) => event.seq as number);
  expect(uploaded.sort((a, b) => a - b)).toEqual([...Array(count).keys()]);
  expect(events.filter((event) => event.event === 'failed')).toEqual([]);
  expect((await datasetContent(stack.rucio, 'wavefier', dataset)).size).toBe(count);
}

const uploadArgs = (run: string, extra: string[] = []): string[] => [
  '--json',
  'upload',
  '--source', 'synthetic',
  '--rse', 'LAKE_S3',
  '--redis', stack.redis.url,
  '--run-id', run,
  '--dataset', `ds-${run}`,
  '--log-dir', join(stack.dir, 'logs'),
  ...extra,
];

describe('wavefier upload as a user runs it', () => {
  it('loses nothing when an upload-worker process is killed with SIGKILL mid-run', async () => {
    const run = 'killworker-a1';
    const producer = spawnWavefier(uploadArgs(run, ['--count', '60', '--rate-factor', '20', '--workers', '0']));
    const workerArgs = ['upload-worker', '--redis', stack.redis.url, '--workers', '2', '--log-dir', join(stack.dir, 'logs')];
    const first = spawnWavefier(workerArgs);
    await waitForUploads(run, 5);
    first.child.kill('SIGKILL');
    await first.done;
    const second = spawnWavefier(workerArgs);
    const result = await producer.done;
    second.child.kill('SIGTERM');
    await second.done;
    expect(result.stderr).not.toMatch(/error:/);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout.trim().split('\n').at(-1)!)).toMatchObject({ uploaded: 60, failed: 0 });
    await expectExactlyOnce(run, `ds-${run}`, 60);
  });

  it('resumes a run whose producer was killed, without duplicating or skipping a chunk', async () => {
    const run = 'resume-b2';
    const first = spawnWavefier(uploadArgs(run, ['--count', '50', '--rate-factor', '20']));
    await waitForUploads(run, 5);
    first.child.kill('SIGKILL');
    await first.done;
    // Flags given again must agree with the run's settings (kept in Redis): these do not, and nothing starts.
    const refused = await runCli(['upload', '--resume', run, '--redis', stack.redis.url, '--rse', 'LAKE_POSIX', '--count', '10', '--rate-factor', '20'], {
      env: stack.env,
      timeoutMs: 60_000,
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe(
      `wavefier: error: --resume ${run} continues the run with the settings it was started with (kept in Redis), and these flags disagree: ` +
        "--count 10 (the run's: 50), --rse LAKE_POSIX (the run's: LAKE_S3); leave them out, or give the run's value",
    );
    // Exactly as --help says: the run id and its Redis, nothing else.
    const resumed = await runCli(['--json', 'upload', '--resume', run, '--redis', stack.redis.url], {
      env: stack.env,
      timeoutMs: 90_000,
    });
    expect(resumed.stderr).not.toMatch(/error:/);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout.trim().split('\n').at(-1)!)).toMatchObject({ run, rse: 'LAKE_S3', scheduled: 50, failed: 0 });
    await expectExactlyOnce(run, `ds-${run}`, 50);
  });

  it('uploads sixteen at a time as fast as possible and four when paced, unless --workers says otherwise', async () => {
    const workersOf = async (run: string): Promise<unknown> =>
      (await readEvents(join(stack.dir, 'logs', run), 'upload')).find((event) => event.event === 'run_started')?.settings;
    const unpaced = await runCli(uploadArgs('fastdefault-w1', ['--count', '64', '--as-fast-as-possible']), { env: stack.env, timeoutMs: 90_000 });
    expect(unpaced.code).toBe(0);
    const summary = JSON.parse(unpaced.stdout.trim().split('\n').at(-1)!) as { uploaded: number; attachRequests: number };
    expect(summary.uploaded).toBe(64);
    // Sixteen uploads side by side share attach requests; four make batches of at most three (about
    // 32 requests for 64 chunks).
    expect(summary.attachRequests).toBeLessThan(32);
    expect(await workersOf('fastdefault-w1')).toMatchObject({ workers: 16 });
    await expectExactlyOnce('fastdefault-w1', 'ds-fastdefault-w1', 64);

    const paced = await runCli(uploadArgs('pacedefault-w2', ['--count', '3', '--rate-factor', '20']), { env: stack.env, timeoutMs: 60_000 });
    expect(paced.code).toBe(0);
    expect(await workersOf('pacedefault-w2')).toMatchObject({ workers: 4 });

    const chosen = await runCli(uploadArgs('fastchosen-w3', ['--count', '3', '--as-fast-as-possible', '--workers', '2']), { env: stack.env, timeoutMs: 60_000 });
    expect(chosen.code).toBe(0);
    expect(await workersOf('fastchosen-w3')).toMatchObject({ workers: 2 });
  });

  it('keeps going through a restart of Redis', async () => {
    const run = 'redisrestart-c3';
    const producer = spawnWavefier(uploadArgs(run, ['--count', '60', '--rate-factor', '20']));
    await waitForUploads(run, 5);
    await stack.redis.restart();
    const result = await producer.done;
    expect(result.code).toBe(0);
    await expectExactlyOnce(run, `ds-${run}`, 60);
  });

  it('says clearly when Redis cannot be reached, and exits 1', async () => {
    const result = await runCli(['upload', '--source', 'synthetic', '--count', '2', '--rse', 'LAKE_S3', '--redis', 'redis://127.0.0.1:1'], {
      env: stack.env,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    [['--count', '0'], /invalid --count '0'/],
    [['--period', 'fast'], /invalid --period 'fast'/],
    [['--late', 'maybe'], /argument 'maybe' is invalid/],
    [['--rate-factor', '-2'], /invalid --rate-factor/],
  ])('rejects bad flags %j with exit 2', async (flags, message) => {
    const result = await runCli(['upload', '--source', 'synthetic', '--rse', 'LAKE_S3', ...flags], { env: stack.env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('requires --rse', async () => {
    const result = await runCli(['upload', '--source', 'synthetic', '--count', '1'], { env: stack.env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--rse/);
  });
});
