import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adler32 } from '../../src/common/checksum.js';
import { runDownload, type DownloadRunOptions } from '../../src/downloader/index.js';
import { runUpload, type UploadRunOptions, type UploadSummary } from '../../src/uploader/index.js';
import { readEvents, startTestStack, syntheticUploadOptions, tamperObject, type TestStack } from '../helpers/stack.js';

/**
 * `download` with `workers: 0` and no Redis: the chunks are fetched and verified in the download
 * process itself, against the embedded lake. The upload side uses the stack's Redis; the download
 * gets none, so a run that tried to use one would fail.
 */
let stack: TestStack;
beforeEach(async () => {
  stack = await startTestStack();
});
afterEach(async () => {
  await stack.dispose();
});

const logDir = (): string => join(stack.dir, 'logs');

function upload(overrides: Partial<UploadRunOptions> = {}): Promise<UploadSummary> {
  return runUpload(syntheticUploadOptions(stack, { asFastAsPossible: true, count: 20, ...overrides }));
}

function download(dataset: string, overrides: Partial<DownloadRunOptions> = {}): ReturnType<typeof runDownload> {
  return runDownload({
    rucio: stack.rucio,
    workerRucioSettings: stack.config,
    scope: 'wavefier',
    dataset,
    dest: join(stack.dir, 'dest'),
    subdir: true,
    keep: 'all',
    workers: 0,
    pollMode: 'phase-locked',
    pollIntervalMs: 100,
    reconcileEveryMs: 60_000,
    untilClosed: true,
    durationMs: 60_000,
    attempts: 4,
    corruptionRetries: 1,
    logDir: logDir(),
    signal: new AbortController().signal,
    output: stack.output,
    ...overrides,
  });
}

async function uploadedNames(run: string): Promise<string[]> {
  return (await readEvents(join(logDir(), run), 'upload')).filter((event) => event.event === 'uploaded').map((event) => event.name as string);
}

describe('wavefier download --workers 0 (in this process, no Redis; embedded lake)', () => {
  it('verifies every chunk of a closed dataset, writes them, and logs them as the worker processes do', async () => {
    const uploaded = await upload({ dataset: 'ds-in' });
    const summary = await download('ds-in', { runName: 'r1' });
    expect(summary).toMatchObject({ verified: 20, corrupted: 0, failed: 0, inFlight: 0 });
    expect(summary.stopReason).toMatch(/dataset closed/);
    expect(summary.verifiedBy).toBe('this process, 2 chunks at a time');
    const events = await readEvents(join(logDir(), 'r1'), 'download');
    expect(events[0]).toMatchObject({ event: 'run_started', settings: { workers: 0, verify: 'in-process' } });
    expect(events.find((event) => event.event === 'ready')).toMatchObject({ settings: { verify: 'in-process', concurrency: 2 } });
    const verified = events.filter((event) => event.event === 'verified');
    expect(new Set(verified.map((event) => event.name))).toEqual(new Set(await uploadedNames(uploaded.run)));
    // A first-try success is one attempt, as with the worker processes.
    expect(verified.every((event) => event.attempts === 1)).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: 'run_finished', reason: 'dataset closed and every chunk in it handled', counts: { verified: 20, in_flight: 0 } });
    const first = (await readEvents(join(logDir(), uploaded.run), 'upload')).find((event) => event.event === 'uploaded')!;
    expect(adler32(await readFile(join(stack.dir, 'dest', 'ds-in', first.name as string)))).toBe(first.adler32);
    expect(readdirSync(join(stack.dir, 'dest', 'ds-in'))).toHaveLength(20);
  });

  it('detects corrupted objects, reads them again, logs every bad read and never writes them', async () => {
    const uploaded = await upload({ dataset: 'ds-bad', count: 8 });
    const victims = (await uploadedNames(uploaded.run)).slice(1, 3);
    for (const name of victims) await tamperObject(stack, 'corrupt', 'wavefier', name);
    const summary = await download('ds-bad', { runName: 'r2' });
    expect(summary).toMatchObject({ verified: 6, corrupted: 2, corruptedReads: 8, chunksWithCorruptedRead: 2 });
    const corrupted = (await readEvents(join(logDir(), 'r2'), 'download')).filter((event) => event.event === 'corrupted');
    // Two rounds (--corruption-retries 1) of two reads each, numbered among all the chunk's reads.
    for (const name of victims) expect(corrupted.filter((event) => event.name === name).map((event) => event.attempt)).toEqual([1, 2, 3, 4]);
    for (const event of corrupted) expect(event.adler32).not.toBe(event.expected_adler32);
    for (const name of victims) expect(existsSync(join(stack.dir, 'dest', 'ds-bad', name))).toBe(false);
  });

  it('tries a chunk again after storage 5xx answers, with the attempts in its log line', async () => {
    await upload({ dataset: 'ds-5xx', count: 4 });
    stack.lake.faults.set({ storage: [{ method: 'GET', errorBurst: 6, status: 503 }] });
    const summary = await download('ds-5xx', { runName: 'r3', workerConcurrency: 1 });
    expect(stack.lake.faults.counters().storage.errors).toBe(6);
    expect(summary).toMatchObject({ verified: 4, failed: 0 });
    const events = await readEvents(join(logDir(), 'r3'), 'download');
    const attempts = events.filter((event) => event.event === 'verified').map((event) => event.attempts as number);
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
    expect(attempts.filter((count) => count === 1).length).toBeGreaterThanOrEqual(3);
    expect(events.filter((event) => event.msg === 'download attempt failed; retrying').length).toBe(attempts.reduce((sum, count) => sum + count - 1, 0));
  });

  it('fails a chunk for good when storage keeps failing, after --attempts attempts', async () => {
    await upload({ dataset: 'ds-down', count: 1 });
    stack.lake.faults.set({ storage: [{ method: 'GET', errorRate: 1, status: 503 }] });
    const summary = await download('ds-down', { runName: 'r4', attempts: 2 });
    expect(summary).toMatchObject({ verified: 0, failed: 1, inFlight: 0 });
    const failed = (await readEvents(join(logDir(), 'r4'), 'download')).filter((event) => event.event === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ attempts: 2 });
    expect(stack.stderr()).toMatch(/failed: .* after 2 attempts/);
  });

  it('after a Ctrl-C writes run_finished (interrupted) within 5 s, and the next run verifies the rest once', async () => {
    await upload({ dataset: 'ds-stop', count: 30 });
    // Slow storage: a chunk takes ~300 ms, so the stop comes with chunks in flight and waiting.
    stack.lake.faults.set({ storage: [{ method: 'GET', latencyMs: 300 }] });
    const controller = new AbortController();
    const first = download('ds-stop', { runName: 'r5', signal: controller.signal });
    for (let tries = 0; tries < 200; tries++) {
      const seen = await readEvents(join(logDir(), 'r5'), 'download').catch(() => []);
      if (seen.filter((event) => event.event === 'verified').length >= 3) break;
      await sleep(50);
    }
    const abortedAt = Date.now();
    controller.abort();
    const stopped = await first;
    expect(Date.now() - abortedAt).toBeLessThan(5000);
    expect(stopped.stopReason).toBe('interrupted');
    expect(stopped.verified).toBeLessThan(30);
    const events = await readEvents(join(logDir(), 'r5'), 'download');
    expect(events.at(-1)).toMatchObject({ event: 'run_finished', reason: 'interrupted' });
    stack.lake.faults.clear();
    const second = await download('ds-stop', { runName: 'r5' });
    expect(second.alreadyVerified).toBe(stopped.verified);
    const names = (await readEvents(join(logDir(), 'r5'), 'download')).filter((event) => event.event === 'verified').map((event) => event.name);
    expect(names).toHaveLength(30);
    expect(new Set(names).size).toBe(30);
  });
});
