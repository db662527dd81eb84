import { describe, expect, it } from 'vitest';
import { latencyStats, percentileOfSorted } from '../../src/report/index.js';
import { formatSpread } from '../../src/report/format.js';

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
    // Around the median the spread cannot go negative: here 84 % of the chunks share one value.
    expect(stats).toMatchObject({ median: 1000, belowMedian: 0, aboveMedian: 0 });
    expect(formatSpread(stats)).toBe('1.00 -0.00 +0.00 s');
  });

  it('keeps both spreads non-negative for skewed and heavy-tailed data, where the mean leaves p16..p84', () => {
    const tail = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));
    const fixtures: [string, number[]][] = [
      // Right tail (a stalled upload every so often): the mean lies above p84.
      ['right tail', [...tail(90, (i) => 1800 + i), ...tail(10, () => 60_000)]],
      // Left tail (clock offset pulls a few negative): the mean lies below p16.
      ['left tail', [...tail(10, () => -50_000), ...tail(90, (i) => 2000 + i)]],
      ['two values', [...tail(99, () => 5), 1e6]],
      ['log-normal-ish', tail(1000, (i) => Math.exp(((i * 7919) % 1000) / 100))],
    ];
    for (const [label, values] of fixtures) {
      const stats = latencyStats(values)!;
      expect(stats.belowMedian, label).toBeGreaterThanOrEqual(0);
      expect(stats.aboveMedian, label).toBeGreaterThanOrEqual(0);
      expect(stats.median - stats.belowMedian, label).toBeCloseTo(stats.p16, 9);
      expect(stats.median + stats.aboveMedian, label).toBeCloseTo(stats.p84, 9);
      expect(formatSpread(stats), label).toMatch(/^-?[\d.]+ -[\d.]+ \+[\d.]+ m?s$/);
    }
    const right = latencyStats(fixtures[0]![1])!;
    expect(right.plus).toBeLessThan(0);
    expect(formatSpread(right)).toBe('1.85 -0.03 +0.03 s');
    const left = latencyStats(fixtures[1]![1])!;
    expect(left.minus).toBeGreaterThan(0);
    expect(formatSpread(left)).toBe('2.04 -0.03 +0.03 s');
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
