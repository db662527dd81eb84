import { describe, expect, it } from 'vitest';
import { progressLine, remainingTimeMs } from '../../src/uploader/run-progress.js';
import { RunStats } from '../../src/uploader/run-stats.js';

describe('upload progress: time left', () => {
  it('follows the schedule of a paced run', () => {
    const settings = { t0: 1_000_000, count: 100, intervalMs: 1000 };
    expect(remainingTimeMs(settings, 60, { done: 40, at: 1_040_000 }, { done: 0, at: 1_000_000 })).toBe(60_000);
    expect(remainingTimeMs(settings, 0, { done: 100, at: 1_200_000 }, { done: 0, at: 1_000_000 })).toBe(0);
  });

  it('extrapolates the rate seen so far when the run is unpaced', () => {
    const settings = { t0: 1_000_000, count: 14_400, intervalMs: 0 };
    // 2,000 chunks in 10 s since the first look: 200/s, 12,000 left -> 60 s.
    expect(remainingTimeMs(settings, 12_000, { done: 2_400, at: 1_012_000 }, { done: 400, at: 1_002_000 })).toBeCloseTo(60_000, 6);
  });

  it('says nothing rather than a wrong figure before the first chunk finishes', () => {
    const settings = { t0: 1_000_000, count: 14_400, intervalMs: 0 };
    expect(remainingTimeMs(settings, 14_400, { done: 0, at: 1_001_000 }, { done: 0, at: 1_000_000 })).toBeUndefined();
    expect(remainingTimeMs(settings, 14_400, { done: 0, at: 1_000_000 }, { done: 0, at: 1_000_000 })).toBeUndefined();
  });
});

describe('upload progress: the status line', () => {
  const paced = { t0: 1_000_000, count: 100, intervalMs: 1000 };
  const first = { done: 0, at: 1_000_000 };

  it('shows outcomes of the total, the queue, last-minute timings and the time left', () => {
    const stats = new RunStats(() => 1_030_000);
    stats.enqueued(2);
    stats.outcome({
      event: 'uploaded', run: 'r', seq: 0, name: 'n', scope: 's', dataset: 'd', rse: 'R', gps: 0, late: false, t_avail: 1_029_000, t_uploaded: 1_029_120,
    });
    const line = progressLine({ counts: { uploaded: 27, failed: 1, skipped: 2, late: 4 }, inQueue: 3, stats, settings: paced, first, now: 1_040_000 });
    expect(line).toBe(
      '27/100 uploaded · 1 failed · 2 skipped · 4 late · 3 queued · pacing p50 2.00 ms p99 2.00 ms · upload p50 120 ms p99 120 ms (last min) · 30 done · ETA 1 m 00 s',
    );
  });

  it('leaves out what it cannot know: no total and no ETA for an open-ended run, dashes before any timing', () => {
    const stats = new RunStats(() => 0);
    const line = progressLine({ counts: {}, inQueue: 0, stats, settings: { t0: 0, intervalMs: 1000 }, first, now: 1_000_500 });
    expect(line).toBe('0 uploaded · 0 failed · 0 skipped · 0 late · 0 queued · pacing p50 - p99 - · upload p50 - p99 - (last min) · 0 done');
  });

  it('never shows a negative queue (a resumed run finishes chunks an earlier process enqueued)', () => {
    const line = progressLine({ counts: { uploaded: 5 }, inQueue: -2, stats: new RunStats(() => 0), settings: paced, first, now: 1_000_000 });
    expect(line).toContain(' 0 queued ');
  });

  it('says ETA - for an unpaced run until a chunk has finished', () => {
    const unpaced = { t0: 1_000_000, count: 100, intervalMs: 0 };
    const line = progressLine({ counts: {}, inQueue: 16, stats: new RunStats(() => 0), settings: unpaced, first, now: 1_000_500 });
    expect(line.endsWith('0 done · ETA -')).toBe(true);
  });
});
