import type { LatencyStats } from './report-types.js';

/**
 * Percentile of ascending-sorted values by linear interpolation between closest ranks (numpy's
 * default, "type 7"): exact from the raw values, and p50 is the usual median for even counts.
 */
export function percentileOfSorted(sorted: Float64Array, fraction: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = fraction * (n - 1);
  const low = Math.floor(rank);
  const high = Math.min(low + 1, n - 1);
  const lowValue = sorted[low] ?? Number.NaN;
  const highValue = sorted[high] ?? Number.NaN;
  return lowValue + (highValue - lowValue) * (rank - low);
}

/** Statistics of the finite values among `values` (NaN marks "no value"); null when there are none. */
export function latencyStats(values: ArrayLike<number>): LatencyStats | null {
  const finite = new Float64Array(values.length);
  let count = 0;
  let sum = 0;
  for (let index = 0; index < values.length; index++) {
    const value = values[index] ?? Number.NaN;
    if (!Number.isFinite(value)) continue;
    finite[count++] = value;
    sum += value;
  }
  if (count === 0) return null;
  const sorted = finite.subarray(0, count).sort();
  const mean = sum / count;
  const p16 = percentileOfSorted(sorted, 0.16);
  const p84 = percentileOfSorted(sorted, 0.84);
  const median = percentileOfSorted(sorted, 0.5);
  return {
    count,
    mean,
    minus: p16 - mean,
    plus: p84 - mean,
    // Clamped: interpolation rounding must not print "-0.00" for a flat distribution.
    belowMedian: Math.max(0, median - p16),
    aboveMedian: Math.max(0, p84 - median),
    min: sorted[0] ?? Number.NaN,
    p16,
    median,
    p84,
    p90: percentileOfSorted(sorted, 0.9),
    p99: percentileOfSorted(sorted, 0.99),
    max: sorted[count - 1] ?? Number.NaN,
  };
}
