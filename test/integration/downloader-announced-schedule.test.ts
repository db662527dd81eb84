import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { streamScheduleLine } from '../../src/common/stream-schedule.js';
import { runDownload, type DownloadRunOptions } from '../../src/downloader/index.js';
import { streamPosition } from '../../src/downloader/poll-phase.js';
import { uploadSchedule, whenLogShows } from '../../src/rehearse/warm-start.js';
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

describe('a download told its producer\'s schedule', () => {
  it('locks onto it before chunk 0 exists, polls for chunk 0 first, and verifies every chunk', async () => {
    // The upload fixes its t0 a second after it is set up: the download is polling by then.
    const uploading = runUpload(syntheticUploadOptions(stack, { runId: 'up-told', dataset: 'ds-told', rateFactor: 10, count: 10, startGate: () => sleep(1000) }));
    const [summary, uploaded] = await Promise.all([download('ds-told', { runName: 'told', announcedSchedule: relayed('up-told', uploading) }), uploading]);
    expect(uploaded).toMatchObject({ uploaded: 10, failed: 0 });
    expect(summary).toMatchObject({ verified: 10, corrupted: 0, failed: 0, inFlight: 0 });
    const events = await readEvents(join(logDir(), 'told'), 'download');
    const started = (await readEvents(join(logDir(), 'up-told'), 'upload')).find((event) => event.event === 'run_started');
    const chunk0 = events.find((event) => event.event === 'verified' && event.seq === 0);
    expect(events.find((event) => event.msg === 'stream schedule announced')).toMatchObject({ t0: started?.t0, interval_ms: 100, gps_start: streamPosition(chunk0?.name as string) });
    const decisions = events.filter((event) => typeof event.msg === 'string' && event.msg.startsWith('poll schedule: '));
    expect(decisions.map((event) => event.msg)).toContain('poll schedule: locked on the announced schedule');
    expect(decisions.find((event) => event.msg === 'poll schedule: predicted arrival')?.k).toBe(streamPosition(chunk0?.name as string));
    expect(events.at(-1)).toMatchObject({ event: 'run_finished', counts: { verified: 10 } });
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
