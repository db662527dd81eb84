import { describe, expect, it } from 'vitest';
import { latencyStats, percentileOfSorted } from '../../src/report/index.js';

describe('report latency statistics', () => {
  it('gives exact interpolated percentiles (numpy default) and the seed spread around the mean', () => {
    const stats = latencyStats([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(stats).not.toBeNull();
    expect(stats!.count).toBe(10);
    expect(stats!.mean).toBeCloseTo(5.5, 12);
    expect(stats!.median).toBeCloseTo(5.5, 12);
    expect(stats!.p16).toBeCloseTo(2.44, 12);
    expect(stats!.p84).toBeCloseTo(8.56, 12);
    expect(stats!.minus).toBeCloseTo(2.44 - 5.5, 12);
    expect(stats!.plus).toBeCloseTo(8.56 - 5.5, 12);
    expect(stats!.p90).toBeCloseTo(9.1, 12);
    expect(stats!.p99).toBeCloseTo(9.91, 12);
    expect(stats!.min).toBe(1);
    expect(stats!.max).toBe(10);
  });

  it('shows an asymmetric spread for a skewed distribution', () => {
    const values = [...Array.from({ length: 90 }, () => 1000), ...Array.from({ length: 10 }, () => 5000)];
    const stats = latencyStats(values)!;
    expect(stats.mean).toBe(1400);
    expect(stats.minus).toBe(-400);
    expect(stats.plus).toBe(-400);
    expect(stats.p99).toBe(5000);
  });

  it('skips NaN (chunks without a value) and returns null when nothing is left', () => {
    expect(latencyStats([Number.NaN, 3, Number.NaN, 1])!.count).toBe(2);
    expect(latencyStats([Number.NaN])).toBeNull();
    expect(latencyStats([])).toBeNull();
  });

  it('takes percentiles at the ends and of a single value', () => {
    const sorted = Float64Array.from([1, 2, 3, 4]);
    expect(percentileOfSorted(sorted, 0)).toBe(1);
    expect(percentileOfSorted(sorted, 1)).toBe(4);
    expect(percentileOfSorted(sorted, 0.5)).toBe(2.5);
    expect(percentileOfSorted(Float64Array.from([7]), 0.99)).toBe(7);
    expect(percentileOfSorted(new Float64Array(0), 0.5)).toBeNaN();
  });
});
