import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adler32 } from '../../src/common/checksum.js';
import { runDownload, type DownloadRunOptions } from '../../src/downloader/index.js';
import { runUpload, type UploadRunOptions, type UploadSummary } from '../../src/uploader/index.js';
import { repoRoot } from '../helpers/cli.js';
import { readEvents, startTestStack, syntheticUploadOptions, tamperObject, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeEach(async () => {
  stack = await startTestStack();
});
afterEach(async () => {
  await stack.dispose();
});

const logDir = (): string => join(stack.dir, 'logs');

function upload(overrides: Partial<UploadRunOptions> = {}): Promise<UploadSummary> {
  return runUpload(syntheticUploadOptions(stack, overrides));
}

function download(dataset: string, overrides: Partial<DownloadRunOptions> = {}): ReturnType<typeof runDownload> {
  return runDownload({
    redisUrl: stack.redis.url,
    rucio: stack.rucio,
    workerRucioSettings: stack.config,
    scope: 'wavefier',
    dataset,
    dest: join(stack.dir, 'dest'),
    subdir: true,
    keep: 'all',
    workers: 2,
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

async function verifiedNames(runName: string): Promise<string[]> {
  const events = await readEvents(join(logDir(), runName), 'download');
  return events.filter((event) => event.event === 'verified').map((event) => event.name as string);
}

describe('wavefier download (real Redis, embedded lake, worker processes)', () => {
  it.each(['phase-locked', 'incremental', 'full'] as const)('follows a run being uploaded and verifies every chunk (%s polling)', async (pollMode) => {
    const dataset = `ds-${pollMode}`;
    const downloading = download(dataset, { pollMode, runName: 'r1' });
    const uploaded = await upload({ dataset, runId: `up-${pollMode}-0001` });
    const summary = await downloading;
    expect(uploaded.uploaded).toBe(40);
    expect(summary).toMatchObject({ verified: 40, corrupted: 0, failed: 0, inFlight: 0 });
    expect(summary.stopReason).toMatch(/dataset closed/);
    const names = await verifiedNames('r1');
    expect(new Set(names).size).toBe(40);
    // Files land in <dest>/<dataset>/<name>, byte-identical to what the catalog registered.
    const files = readdirSync(join(stack.dir, 'dest', dataset));
    expect(files.sort()).toEqual([...names].sort());
    const uploadEvents = await readEvents(join(logDir(), uploaded.run), 'upload');
    const first = uploadEvents.find((event) => event.event === 'uploaded')!;
    expect(adler32(await readFile(join(stack.dir, 'dest', dataset, first.name as string)))).toBe(first.adler32);
    // The download log carries t_avail from the chunk itself, so total latency needs no upload log.
    const verified = (await readEvents(join(logDir(), 'r1'), 'download')).filter((event) => event.event === 'verified');
    for (const event of verified) {
      expect(event.t_verified as number).toBeGreaterThanOrEqual(event.t_detected as number);
      expect(event.t_avail).toBeTypeOf('number');
      expect(event.run).toBe(uploaded.run);
    }
  });

  it('phase-locked polling sees the chunks of a paced 5 Hz upload in less than half the plain interval\'s time (p90)', async () => {
    // Both downloaders follow the same upload, so they see the same arrivals.
    const locked = download('ds-5hz', { runName: 'locked', keep: 'none', workers: 1 });
    const plain = download('ds-5hz', { runName: 'plain', keep: 'none', workers: 1, pollMode: 'incremental', pollIntervalMs: 250 });
    const uploaded = await upload({ dataset: 'ds-5hz', count: 50, rateFactor: 5 });
    const [lockedSummary, plainSummary] = await Promise.all([locked, plain]);
    expect(lockedSummary.verified).toBe(50);
    expect(plainSummary.verified).toBe(50);
    const uploadedAt = new Map(
      (await readEvents(join(logDir(), uploaded.run), 'upload')).filter((event) => event.event === 'uploaded').map((event) => [event.name, event.t_uploaded as number]),
    );
    const delaysOf = async (run: string): Promise<number[]> =>
      (await readEvents(join(logDir(), run), 'download'))
        .filter((event) => event.event === 'verified')
        .sort((a, b) => (a.seq as number) - (b.seq as number))
        .map((event) => (event.t_detected as number) - uploadedAt.get(event.name)!);
    const p90 = async (run: string): Promise<number> => {
      const delays = (await delaysOf(run)).sort((a, b) => a - b);
      return delays[Math.floor(0.9 * delays.length)]!;
    };
    expect(await p90('locked')).toBeLessThan((await p90('plain')) / 2);
    expect(lockedSummary.pollHits).toBeGreaterThan(40);
  });

  it('detects corrupted objects, logs both checksums, never writes them, and counts them', async () => {
    const uploaded = await upload({ dataset: 'ds-corrupt', count: 12 });
    const names = (await readEvents(join(logDir(), uploaded.run), 'upload'))
      .filter((event) => event.event === 'uploaded')
      .map((event) => event.name as string);
    const victims = names.slice(2, 5);
    for (const name of victims) await tamperObject(stack, 'corrupt', 'wavefier', name);
    const summary = await download('ds-corrupt', { runName: 'r2' });
    expect(summary.verified).toBe(9);
    expect(summary.corrupted).toBe(3);
    const events = await readEvents(join(logDir(), 'r2'), 'download');
    const corrupted = events.filter((event) => event.event === 'corrupted');
    // Each victim is fetched in two rounds (--corruption-retries 1) of two reads, and every bad read is logged.
    expect(new Set(corrupted.map((event) => event.name))).toEqual(new Set(victims));
    expect(corrupted).toHaveLength(12);
    expect(summary).toMatchObject({ corruptedReads: 12, chunksWithCorruptedRead: 3 });
    for (const event of corrupted) {
      expect(event.expected_adler32).toMatch(/^[0-9a-f]{8}$/);
      expect(event.adler32).not.toBe(event.expected_adler32);
    }
    for (const name of victims) {
      expect(corrupted.filter((event) => event.name === name).map((event) => event.attempt)).toEqual([1, 2, 3, 4]);
    }
    for (const name of victims) expect(existsSync(join(stack.dir, 'dest', 'ds-corrupt', name))).toBe(false);
  });

  it('loses no chunk when a worker process is killed mid-run', async () => {
    const downloading = download('ds-kill', { runName: 'r3', workers: 2 });
    const uploading = upload({ dataset: 'ds-kill', count: 60, rateFactor: 20 });
    // Wait for the worker processes to exist and be busy, then kill one of them.
    let killed = false;
    for (let attempt = 0; attempt < 100 && !killed; attempt++) {
      await sleep(100);
      const children = execFileSync('pgrep', ['-P', String(process.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
      const workers = children.filter((pid) => {
        const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSyncSafe(`/proc/${pid}/cmdline`) : '';
        return cmdline.includes('download-worker');
      });
      if (workers.length > 0 && (await verifiedNames('r3').catch(() => [])).length >= 5) {
        process.kill(Number(workers[0]), 'SIGKILL');
        killed = true;
      }
    }
    expect(killed).toBe(true);
    await uploading;
    const summary = await downloading;
    expect(summary).toMatchObject({ verified: 60, corrupted: 0, failed: 0 });
    // Every chunk verified once: the killed worker's job came back and was done by another, and only once.
    const names = await verifiedNames('r3');
    expect(names).toHaveLength(60);
    expect(new Set(names).size).toBe(60);
    const events = await readEvents(join(logDir(), 'r3'), 'download');
    expect(events.filter((event) => event.msg === 'a download worker process exited; starting another')).toHaveLength(1);
  });

  it('is served by a download-worker process started on its own, as on another host', async () => {
    await upload({ dataset: 'ds-remote', count: 20 });
    const worker = spawn(process.execPath, [join(repoRoot, 'bin', 'wavefier'), '--json', 'download-worker', '--redis', stack.redis.url, '--log-dir', logDir()], {
      env: { ...process.env, ...stack.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    worker.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    const exited = new Promise<number | null>((resolve) => worker.on('exit', (code) => resolve(code)));
    try {
      // No worker process of its own: only the one above can verify its chunks.
      const summary = await download('ds-remote', { runName: 'r9', workers: 0, keep: 'none' });
      expect(summary).toMatchObject({ verified: 20, failed: 0, inFlight: 0 });
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await exited).toBe(143);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.at(-1)).toMatchObject({ event: 'stopped', verified: 20, corrupted: 0 });
  });

  it('resumes after a restart without fetching a verified chunk twice', async () => {
    await upload({ dataset: 'ds-restart', count: 30 });
    const controller = new AbortController();
    const stopEarly = download('ds-restart', { runName: 'r4', signal: controller.signal, workers: 1 });
    for (let attempt = 0; attempt < 200 && (await verifiedNames('r4').catch(() => [])).length < 5; attempt++) await sleep(50);
    controller.abort();
    const first = await stopEarly;
    expect(first.stopReason).toBe('interrupted');
    const second = await download('ds-restart', { runName: 'r4' });
    expect(second.alreadyVerified).toBe(first.verified);
    const names = await verifiedNames('r4');
    expect(names).toHaveLength(30);
    expect(new Set(names).size).toBe(30);
  });

  it('keeps polling through catalog 5xx bursts', async () => {
    stack.lake.faults.set({ catalog: [{ path: '^/replicas/list$', errorBurst: 8, status: 500 }] });
    const downloading = download('ds-5xx', { runName: 'r5' });
    await upload({ dataset: 'ds-5xx', count: 20 });
    const summary = await downloading;
    expect(summary.verified).toBe(20);
    expect(summary.pollErrors).toBeGreaterThan(0);
  });

  it('runs two downloaders on one Redis side by side without taking each other\'s jobs', async () => {
    await Promise.all([upload({ dataset: 'ds-one', count: 15 }), upload({ dataset: 'ds-two', count: 15 })]);
    const [one, two] = await Promise.all([
      download('ds-one', { runName: 'r7', keep: 'none' }),
      download('ds-two', { runName: 'r8', keep: 'none' }),
    ]);
    expect(one).toMatchObject({ verified: 15, failed: 0, inFlight: 0 });
    expect(two).toMatchObject({ verified: 15, failed: 0, inFlight: 0 });
  });

  it('verifies without keeping files with --keep none', async () => {
    await upload({ dataset: 'ds-keepnone', count: 10 });
    const summary = await download('ds-keepnone', { runName: 'r6', keep: 'none' });
    expect(summary.verified).toBe(10);
    expect(existsSync(join(stack.dir, 'dest', 'ds-keepnone'))).toBe(false);
  });
});

function readFileSyncSafe(path: string): string {
  try {
    return execFileSync('cat', [path], { encoding: 'utf8' });
  } catch {
    return '';
  }
}
