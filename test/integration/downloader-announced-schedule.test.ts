import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { streamScheduleLine } from '../../src/common/stream-schedule.js';
import { runDownload, type DownloadRunOptions } from '../../src/downloader/index.js';
import { streamPosition } from '../../src/downloader/poll-phase.js';
import { uploadSchedule, whenLogSaysReady, whenLogShows } from '../../src/rehearse/warm-start.js';
import { decodePathCounts } from '../../src/strain/chunk-decoding.js';
import { runUpload, type UploadSummary } from '../../src/uploader/index.js';
import { readEvents, startTestStack, syntheticUploadOptions, type TestStack } from '../helpers/stack.js';

/**
 * A download told its producer's schedule (`download --schedule-from-owner`; rehearse relays its
 * upload's `run_started`), against the embedded lake: a paced upload in this process, whose schedule
 * is read from its log as rehearse reads it, and a download verifying in this process.
 */
let stack: TestStack;
beforeEach(async () => {
  stack = await startTestStack();
});
afterEach(async () => {
  await stack.dispose();
});

const logDir = (): string => join(stack.dir, 'logs');

function download(dataset: string, overrides: Partial<DownloadRunOptions>): ReturnType<typeof runDownload> {
  return runDownload({
    rucio: stack.rucio,
    workerRucioSettings: stack.config,
    scope: 'wavefier',
    dataset,
    subdir: true,
    keep: 'none',
    workers: 0,
    pollMode: 'phase-locked',
    pollIntervalMs: 250,
    reconcileEveryMs: 60_000,
    catalogResolutionMs: 1,
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

/** The upload's schedule as rehearse relays it: the line, once its log's run_started says it. */
async function relayed(run: string, uploading: Promise<UploadSummary>): Promise<string | undefined> {
  const fixed = await whenLogShows(join(logDir(), run, 'upload.jsonl'), (record) => (record.event === 'run_started' ? { schedule: uploadSchedule(record) } : undefined), {
    exited: uploading,
    signal: new AbortController().signal,
    timeoutMs: 30_000,
    everyMs: 2,
  });
  return fixed.found?.schedule === undefined ? undefined : streamScheduleLine(fixed.found.schedule).trimEnd();
}

/**
 * A start gate for the upload that opens once the download's log says `ready` (its decoder warm-up
 * done), as rehearse's does, and the decoder's path counts at that moment: what the run's chunks add.
 */
function whenDownloadReady(runName: string): { gate: () => Promise<void>; counts: () => ReturnType<typeof decodePathCounts> } {
  let atReady = decodePathCounts();
  const gate = async (): Promise<void> => {
    await whenLogSaysReady(join(logDir(), runName, 'download.jsonl'), { exited: new Promise(() => undefined), signal: new AbortController().signal, timeoutMs: 30_000 });
    atReady = decodePathCounts();
  };
  return { gate, counts: () => atReady };
}

describe('a download told its producer\'s schedule', () => {
  it('locks onto it before chunk 0 exists, polls for chunk 0 first, and verifies every chunk, chunk 0 through the template of the announced shape', async () => {
    const ready = whenDownloadReady('told');
    const uploading = runUpload(syntheticUploadOptions(stack, { runId: 'up-told', dataset: 'ds-told', rateFactor: 10, count: 10, startGate: ready.gate }));
    const [summary, uploaded] = await Promise.all([download('ds-told', { runName: 'told', announcedSchedule: relayed('up-told', uploading) }), uploading]);
    expect(uploaded).toMatchObject({ uploaded: 10, failed: 0 });
    expect(summary).toMatchObject({ verified: 10, corrupted: 0, failed: 0, inFlight: 0 });
    // Every chunk of the run, the first included, was read through the template the announcement prepared.
    expect(decodePathCounts().h5wasm - ready.counts().h5wasm).toBe(0);
    const events = await readEvents(join(logDir(), 'told'), 'download');
    expect(events.find((event) => event.msg === 'chunk shape announced')).toMatchObject({ prepared: true, run_id: 'up-told', sample_rate_hz: 4096, source_kind: 'synthetic', has_dq: false });
    const started = (await readEvents(join(logDir(), 'up-told'), 'upload')).find((event) => event.event === 'run_started');
    const chunk0 = events.find((event) => event.event === 'verified' && event.seq === 0);
    expect(events.find((event) => event.msg === 'stream schedule announced')).toMatchObject({ t0: started?.t0, interval_ms: 100, gps_start: streamPosition(chunk0?.name as string) });
    const decisions = events.filter((event) => typeof event.msg === 'string' && event.msg.startsWith('poll schedule: '));
    expect(decisions.map((event) => event.msg)).toContain('poll schedule: locked on the announced schedule');
    expect(decisions.find((event) => event.msg === 'poll schedule: predicted arrival')?.k).toBe(streamPosition(chunk0?.name as string));
    expect(events.at(-1)).toMatchObject({ event: 'run_finished', counts: { verified: 10 } });
  });

  it('verifies chunks that do not have the announced shape through h5wasm, with what they hold', async () => {
    const ready = whenDownloadReady('wrong');
    const uploading = runUpload(syntheticUploadOptions(stack, { runId: 'up-wrong', dataset: 'ds-wrong', rateFactor: 10, count: 6, startGate: ready.gate }));
    const wrongShape = relayed('up-wrong', uploading).then((line) => {
      const told = JSON.parse(line ?? '{}') as { chunk_shape?: { detector: string } };
      expect(told.chunk_shape).toBeDefined();
      return JSON.stringify({ ...told, chunk_shape: { ...told.chunk_shape, detector: 'X9' } });
    });
    const [summary] = await Promise.all([download('ds-wrong', { runName: 'wrong', announcedSchedule: wrongShape }), uploading]);
    expect(summary).toMatchObject({ verified: 6, corrupted: 0, invalid: 0, failed: 0 });
    // Chunk 0 at least (chunk 1 may come before the template chunk 0 teaches is learnt).
    expect(decodePathCounts().h5wasm - ready.counts().h5wasm).toBeGreaterThanOrEqual(1);
    const events = await readEvents(join(logDir(), 'wrong'), 'download');
    expect(events.find((event) => event.msg === 'chunk shape announced')).toMatchObject({ prepared: true, detector: 'X9' });
    const verified = events.filter((event) => event.event === 'verified');
    expect(verified.map((event) => event.seq).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(verified.every((event) => event.run === 'up-wrong')).toBe(true);
  });

  it('tells its worker processes the shape, and tells a replacement too', async () => {
    const ready = whenDownloadReady('workers');
    // 8 s of chunks: time for a replacement to start (half a second's pause, then its modules) before the end.
    const uploading = runUpload(syntheticUploadOptions(stack, { runId: 'up-workers', dataset: 'ds-workers', rateFactor: 10, count: 80, startGate: ready.gate }));
    const downloading = download('ds-workers', { runName: 'workers', redisUrl: stack.redis.url, workers: 2, announcedSchedule: relayed('up-workers', uploading) });
    const downloadLog = join(logDir(), 'workers', 'download.jsonl');
    const preparedBy = async (count: number): Promise<number[]> => {
      const found = await whenLogShows(
        downloadLog,
        (() => {
          const pids: number[] = [];
          return (record) => {
            if (record.msg === 'download worker process prepared for the announced chunk shape' && record.prepared === true) pids.push(record.pid as number);
            return pids.length >= count ? [...pids] : undefined;
          };
        })(),
        { exited: downloading, signal: new AbortController().signal, timeoutMs: 30_000, everyMs: 20 },
      );
      return found.found ?? [];
    };
    const first = await preparedBy(2);
    expect(new Set(first).size).toBe(2);
    // A worker process that dies is replaced, and its replacement is told the shape as it starts.
    process.kill(first[0]!, 'SIGKILL');
    const all = await preparedBy(3);
    expect(all).toHaveLength(3);
    expect(first).not.toContain(all[2]);
    const [summary] = await Promise.all([downloading, uploading]);
    expect(summary).toMatchObject({ verified: 80, corrupted: 0, failed: 0 });
    const events = await readEvents(join(logDir(), 'workers'), 'download');
    expect(events.find((event) => event.msg === 'chunk shape announced')).toMatchObject({ prepared: true, by: '2 worker processes on this host', run_id: 'up-workers' });
  });

  it('says what is wrong with a schedule it cannot use, polls without it, and verifies every chunk', async () => {
    const uploading = runUpload(syntheticUploadOptions(stack, { runId: 'up-bad', dataset: 'ds-bad', rateFactor: 10, count: 6, startGate: () => sleep(500) }));
    const [summary] = await Promise.all([download('ds-bad', { runName: 'bad', announcedSchedule: Promise.resolve('{"t0":"soon"}') }), uploading]);
    expect(summary).toMatchObject({ verified: 6, corrupted: 0, failed: 0 });
    expect(stack.stderr()).toMatch(/the stream schedule "\{\\"t0\\":\\"soon\\"\}" is invalid: .*t0.*: polling without it/);
    const events = await readEvents(join(logDir(), 'bad'), 'download');
    expect(events.find((event) => event.msg === 'stream schedule ignored')).toBeDefined();
    expect(events.some((event) => event.msg === 'poll schedule: locked on the announced schedule')).toBe(false);
  });
});
