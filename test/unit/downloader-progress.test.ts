import { describe, expect, it } from 'vitest';
import { DownloadStats, progressLine } from '../../src/downloader/run-progress.js';

describe('download statistics', () => {
  it('start at zero, with the idle clock at the start of the run and no latency yet', () => {
    const stats = new DownloadStats(1_000);
    expect(stats).toMatchObject({ detected: 0, verified: 0, corruptedFinal: 0, invalidFinal: 0, failedFinal: 0, corruptedReads: 0, foreign: 0, polls: 0, pollRequests: 0, pollErrors: 0, lastNewAt: 1_000 });
    expect(stats.latency()).toEqual({});
  });

  it('count every verified chunk, and the total latency of those that carry their t_avail', () => {
    const stats = new DownloadStats(0);
    for (let latency = 1; latency <= 100; latency++) stats.recordVerified(latency, latency);
    stats.recordVerified(undefined, 200);
    // A foreign file is verified, but has no chunk latency.
    stats.recordVerified(1_000_000, 300, true);
    expect(stats.verified).toBe(102);
    expect(stats.foreign).toBe(1);
    expect(stats.latency()).toEqual({ p50: 50, p99: 99 });
  });

  it('keep every latency of a long run, not only the recent ones', () => {
    const stats = new DownloadStats(0);
    stats.recordVerified(5_000, 0);
    for (let index = 0; index < 9; index++) stats.recordVerified(10, 86_400_000 * (index + 1));
    expect(stats.latency()).toEqual({ p50: 10, p99: 5_000 });
  });
});

describe('download progress line', () => {
  it('shows outcomes, chunks in flight, polls and the median total latency', () => {
    const stats = new DownloadStats(0);
    stats.recordVerified(120, 1);
    stats.recordVerified(180, 2);
    stats.recordVerified(200, 3);
    for (const name of ['a', 'a', 'b', 'a']) stats.recordCorruptRead(name);
    Object.assign(stats, { failedFinal: 1, polls: 37, pollErrors: 2 });
    expect(progressLine(stats, 6)).toBe('3 verified · 4 corrupted reads (2 chunks) · 1 failed · 6 in flight · 37 polls (2 errors) · total latency p50 180 ms');
  });

  it('shows a dash before any latency is known', () => {
    expect(progressLine(new DownloadStats(0), 0)).toBe('0 verified · 0 corrupted reads (0 chunks) · 0 failed · 0 in flight · 0 polls (0 errors) · total latency p50 -');
  });
});
