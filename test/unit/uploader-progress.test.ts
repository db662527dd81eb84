import { describe, expect, it } from 'vitest';
import { remainingTimeMs } from '../../src/uploader/run-progress.js';

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
