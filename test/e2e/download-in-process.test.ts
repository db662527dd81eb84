import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runUpload } from '../../src/uploader/index.js';
import { runCli } from '../helpers/cli.js';
import { readEvents, startTestStack, type TestStack } from '../helpers/stack.js';

/**
 * The built `bin/wavefier download` verifying in its own process: with `--workers 0`, and by itself
 * for `--until-closed` on a dataset already closed (no `--workers`, no `--redis`). Those runs get a
 * PATH without redis-server: one that tried to start its private Redis would fail.
 */
let stack: TestStack;
beforeEach(async () => {
  stack = await startTestStack();
});
afterEach(async () => {
  await stack.dispose();
});

const logDir = (): string => join(stack.dir, 'logs');

async function upload(dataset: string, count: number, closeDataset: boolean): Promise<void> {
  const summary = await runUpload({
    redisUrl: stack.redis.url,
    rucio: stack.rucio,
    source: { kind: 'synthetic', sampleRate: 4096, seed: 5 },
    periodMs: 1000,
    rateFactor: 1,
    asFastAsPossible: true,
    count,
    alignGps: false,
    latePolicy: 'catch-up',
    gapPolicy: 'skip',
    scope: 'wavefier',
    rse: 'LAKE_S3',
    closeDataset,
    workers: 4,
    attempts: 5,
    logDir: logDir(),
    drainTimeoutMs: 30_000,
    signal: new AbortController().signal,
    output: stack.output,
    dataset,
  });
  expect(summary.uploaded).toBe(count);
}

function download(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runCli(['download', '--log-dir', logDir(), '--poll-interval', '100ms', '--catalog-resolution', '1ms', ...args], {
    env: { ...stack.env, ...env },
    timeoutMs: 60_000,
  });
}

async function runStarted(run: string): Promise<Record<string, unknown>> {
  const started = (await readEvents(join(logDir(), run), 'download')).find((event) => event.event === 'run_started');
  return (started?.settings ?? {}) as Record<string, unknown>;
}

describe('wavefier download in its own process (built bin, embedded lake)', () => {
  it('--workers 0 verifies and writes every chunk without Redis or worker processes', async () => {
    await upload('ds-w0', 12, false);
    const dest = join(stack.dir, 'dest');
    const result = await download(['wavefier:ds-w0', '--workers', '0', '--dir', dest, '--until-count', '12', '--run-name', 'w0'], { PATH: join(stack.dir, 'no-such-bin') });
    expect(result.stderr).not.toMatch(/error/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/chunks {5}12 verified, 0 corrupted, 0 invalid, 0 failed, 0 in flight/);
    expect(result.stdout).toMatch(/verified {3}by this process, 2 chunks at a time\n/);
    expect(result.stderr).toMatch(/download ready after .*: first poll answered, verifying in this process, 2 chunks at a time/);
    expect(readdirSync(join(dest, 'ds-w0'))).toHaveLength(12);
    expect(await runStarted('w0')).toMatchObject({ workers: 0, verify: 'in-process' });
    const verified = (await readEvents(join(logDir(), 'w0'), 'download')).filter((event) => event.event === 'verified');
    expect(verified.map((event) => event.attempts)).toEqual(Array.from({ length: 12 }, () => 1));
  });

  it('--until-closed on a closed dataset verifies in this process by itself, and says why', async () => {
    await upload('ds-closed', 10, true);
    const result = await download(['wavefier:ds-closed', '--keep', 'none', '--until-closed', '--run-name', 'auto', '--json'], { PATH: join(stack.dir, 'no-such-bin') });
    expect(result.stderr).not.toMatch(/error/);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ verified: 10, failed: 0, inFlight: 0 });
    expect(summary.verifiedBy).toMatch(/^this process, 2 chunks at a time \(the dataset was closed when the download started/);
    const settings = await runStarted('auto');
    expect(settings).toMatchObject({ workers: 0, verify: 'in-process' });
    expect(settings.workers_choice).toMatch(/closed when the download started/);
    // The closed dataset's length came with the choice: no poll after the last chunk to find it closed.
    expect(summary.polls).toBe(1);
  });

  it('honours an explicit --workers on a closed dataset, and keeps worker processes for an open one', async () => {
    await upload('ds-closed-1', 6, true);
    await upload('ds-open', 6, false);
    const explicit = await download(['wavefier:ds-closed-1', '--keep', 'none', '--until-closed', '--workers', '1', '--run-name', 'explicit']);
    expect(explicit.code).toBe(0);
    expect(await runStarted('explicit')).toMatchObject({ workers: 1, verify: 'worker processes' });
    expect(explicit.stdout).toMatch(/verified {3}by 1 worker processes on this host\n/);
    const open = await download(['wavefier:ds-open', '--keep', 'none', '--until-closed', '--until-count', '6', '--run-name', 'open']);
    expect(open.code).toBe(0);
    const settings = await runStarted('open');
    expect(settings).toMatchObject({ verify: 'worker processes' });
    expect(settings.workers).toBeGreaterThanOrEqual(1);
    expect(settings.workers_choice).toBeUndefined();
  });
});
