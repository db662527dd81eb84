import { describe, expect, it } from 'vitest';
import type { PendingChunk } from '../../src/downloader/chunk-executor.js';
import { chunksToCheck, longPendingReportMs, lostJobAction, lostJobCheckAfterMs } from '../../src/downloader/lost-job-watchdog.js';
import type { ReplicaRecord } from '../../src/rucio/index.js';

function chunk(name: string, queuedAt: number): [string, PendingChunk] {
  const replica: ReplicaRecord = { scope: 'wavefier', name, bytes: 1, adler32: '00000001', pfns: [], states: {} };
  return [name, { tDetected: queuedAt, replica, corruptions: 0, reads: 0, queuedAt }];
}

describe('lost-job watchdog decisions', () => {
  it('looks only for the jobs of chunks queued long enough ago', () => {
    const now = 100_000;
    const pending = new Map([chunk('fresh', now - lostJobCheckAfterMs + 1), chunk('old', now - lostJobCheckAfterMs), chunk('older', now - 60_000)]);
    expect(chunksToCheck(pending, now).map(([name]) => name)).toEqual(['old', 'older']);
    // A retry queued with a delay counts from when it is due.
    expect(chunksToCheck(new Map([chunk('delayed', now + 3_000)]), now)).toEqual([]);
  });

  it('queues a chunk again when its job is gone at two looks in a row and no outcome came meanwhile', () => {
    expect(lostJobAction({ jobExists: false, missingBefore: true, unchanged: true, inFlightMs: lostJobCheckAfterMs, alreadyReported: false })).toBe('requeue');
    expect(lostJobAction({ jobExists: false, missingBefore: true, unchanged: true, inFlightMs: 10 * longPendingReportMs, alreadyReported: true })).toBe('requeue');
  });

  it('only suspects a chunk whose job is gone at the first look: its answer may still be in the event stream', () => {
    expect(lostJobAction({ jobExists: false, missingBefore: false, unchanged: true, inFlightMs: lostJobCheckAfterMs, alreadyReported: false })).toBe('suspect');
  });

  it('leaves a chunk alone whose job is gone because its outcome arrived during the check', () => {
    expect(lostJobAction({ jobExists: false, missingBefore: true, unchanged: false, inFlightMs: lostJobCheckAfterMs, alreadyReported: false })).toBe('none');
  });

  it('leaves a chunk alone whose job is still in Redis, and notes it once when it has been in flight for long', () => {
    expect(lostJobAction({ jobExists: true, missingBefore: false, unchanged: true, inFlightMs: longPendingReportMs - 1, alreadyReported: false })).toBe('none');
    expect(lostJobAction({ jobExists: true, missingBefore: false, unchanged: true, inFlightMs: longPendingReportMs, alreadyReported: false })).toBe('report');
    expect(lostJobAction({ jobExists: true, missingBefore: false, unchanged: true, inFlightMs: 2 * longPendingReportMs, alreadyReported: true })).toBe('none');
  });
});
