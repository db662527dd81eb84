import { latencyStats } from './latency-stats.js';
import { latencyMetrics, type LatencySamples, type LatencyTable, type LatencyWindow } from './report-types.js';

/** Statistics of every metric over the samples in [from, to) (indices into the t_avail-sorted samples). */
export function latencyTable(samples: LatencySamples, from = 0, to = samples.tAvail.length): LatencyTable {
  const table = {} as LatencyTable;
  for (const metric of latencyMetrics) table[metric] = latencyStats(samples[metric].subarray(from, to));
  return table;
}

/**
 * Cuts the run into windows of `sizeMs` by t_avail, counted from `origin` (the run's t0, else its
 * first chunk), so that degradation over hours shows. Windows without chunks are left out.
 */
export function latencyWindows(samples: LatencySamples, sizeMs: number, origin: number): Omit<LatencyWindow, 'label'>[] {
  const windows: Omit<LatencyWindow, 'label'>[] = [];
  const { tAvail } = samples;
  let from = 0;
  while (from < tAvail.length) {
    const index = Math.floor(((tAvail[from] ?? origin) - origin) / sizeMs);
    const end = origin + (index + 1) * sizeMs;
    let to = from;
    while (to < tAvail.length && (tAvail[to] ?? end) < end) to++;
    // Rounding at a window edge must not stall the walk.
    if (to === from) to++;
    windows.push({ index, start: origin + index * sizeMs, end, chunks: to - from, latency: latencyTable(samples, from, to) });
    from = to;
  }
  return windows;
}
