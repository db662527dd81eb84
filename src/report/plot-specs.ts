import type { TopLevelSpec } from 'vega-lite';
import { formatIn, formatLatency, formatSpread, formatTime, plural, unitFor, type LatencyUnit } from './format.js';
import { percentileOfSorted } from './latency-stats.js';
import type { LatencyStats, Report } from './report-types.js';

/** The Vega-Lite specs of the report's plots: pure data, rendered by plots.ts. */

export const plotFontFamily = 'DejaVu Sans';

const baseConfig = {
  font: plotFontFamily,
  background: 'white',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true },
  title: { fontSize: 13, anchor: 'start' as const, offset: 10 },
} satisfies TopLevelSpec['config'];

function toUnit(ms: number, unit: LatencyUnit): number {
  return unit === 's' ? ms / 1000 : ms;
}

/** A round bin width (1, 2 or 5 times a power of ten) giving at most about `maxBins` bins. */
function niceStep(span: number, maxBins: number): number {
  const raw = span > 0 ? span / maxBins : 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= raw);
  return step ?? 10 * power;
}

interface Histogram {
  bins: { lo: number; hi: number; count: number }[];
  /** Values above the drawn range (a long tail would squash the body of the histogram). */
  clipped: number;
  upper: number;
}

/**
 * Bins computed here rather than by Vega-Lite: the spec carries ~50 rows instead of one per chunk,
 * and the axis gets ordinary ticks. A tail beyond twice the 99.9th percentile is cut and counted.
 */
function histogram(values: Float64Array, stats: LatencyStats, unit: LatencyUnit): Histogram {
  const finite = values.filter((value) => Number.isFinite(value)).sort();
  const p999 = percentileOfSorted(finite, 0.999);
  const upperMs = stats.max > 2 * p999 && p999 > stats.min ? p999 : stats.max;
  const lower = toUnit(stats.min, unit);
  const upper = toUnit(upperMs, unit);
  const step = niceStep(upper - lower, 50);
  const start = Math.floor(lower / step) * step;
  const counts = new Map<number, number>();
  let clipped = 0;
  for (const ms of finite) {
    const value = toUnit(ms, unit);
    if (value > upper) {
      clipped++;
      continue;
    }
    const index = Math.min(Math.floor((value - start) / step), Math.floor((upper - start) / step));
    counts.set(index, (counts.get(index) ?? 0) + 1);
  }
  const bins = [...counts.entries()].map(([index, count]) => ({ lo: start + index * step, hi: start + (index + 1) * step, count }));
  return { bins, clipped, upper };
}

/** Histogram with the mean (solid), the p16..p84 spread (band) and the median (dashed). */
function histogramSpec(label: string, values: Float64Array, stats: LatencyStats): TopLevelSpec {
  const unit = unitFor(stats);
  const { bins, clipped, upper } = histogram(values, stats, unit);
  const tail = clipped > 0 ? [`${plural(clipped, 'chunk')} above ${formatIn(upper * (unit === 's' ? 1000 : 1), unit)} ${unit} not drawn (max ${formatLatency(stats.max, unit)})`] : [];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `${label}: median ${formatSpread(stats, unit)}, mean ${formatLatency(stats.mean, unit)}`,
      // One line per fact, so the title never makes the image wider than the plot.
      subtitle: [`${plural(stats.count, 'chunk')}; band: 16th to 84th percentile (-/+ in the title); solid: mean; dashed: median`, ...tail],
    },
    width: plotWidth,
    height: 300,
    config: baseConfig,
    encoding: { x: { type: 'quantitative', scale: { zero: false, nice: false } } },
    layer: [
      {
        data: { values: [{ lo: toUnit(stats.p16, unit), hi: toUnit(stats.p84, unit) }] },
        mark: { type: 'rect', color: '#f2b134', opacity: 0.25 },
        encoding: { x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' } },
      },
      {
        data: { values: bins },
        mark: { type: 'bar', color: '#4c78a8', binSpacing: 1 },
        encoding: {
          x: { field: 'lo', type: 'quantitative', bin: { binned: true }, title: `${label} (${unit})` },
          x2: { field: 'hi' },
          y: { field: 'count', type: 'quantitative', title: 'chunks' },
        },
      },
      {
        data: { values: [{ v: toUnit(stats.mean, unit) }] },
        mark: { type: 'rule', color: '#e45756', strokeWidth: 2 },
        encoding: { x: { field: 'v', type: 'quantitative' } },
      },
      {
        data: { values: [{ v: toUnit(stats.median, unit) }] },
        mark: { type: 'rule', color: '#222222', strokeDash: [4, 3], strokeWidth: 1.5 },
        encoding: { x: { field: 'v', type: 'quantitative' } },
      },
    ],
  };
}

const plotWidth = 640;

/**
 * M4 reduction (Jugel et al., VLDB 2014): per horizontal pixel column keep the first, last, lowest
 * and highest point. A line drawn through them is pixel-identical to the line through every chunk,
 * and a 24 h soak stays a few thousand vertices instead of 86,400 (seconds of rendering saved).
 */
export function m4Indices(x: Float64Array, y: Float64Array, columns: number): number[] {
  const finite: number[] = [];
  for (let index = 0; index < y.length; index++) if (Number.isFinite(y[index]) && Number.isFinite(x[index])) finite.push(index);
  if (finite.length <= 4 * columns) return finite;
  const first = x[finite[0] ?? 0] ?? 0;
  const span = (x[finite[finite.length - 1] ?? 0] ?? 0) - first || 1;
  const kept: number[] = [];
  let column = -1;
  let group: number[] = [];
  const flush = (): void => {
    if (group.length === 0) return;
    let low = group[0] ?? 0;
    let high = low;
    for (const index of group) {
      if ((y[index] ?? 0) < (y[low] ?? 0)) low = index;
      if ((y[index] ?? 0) > (y[high] ?? 0)) high = index;
    }
    const picks = new Set([group[0] ?? 0, low, high, group[group.length - 1] ?? 0]);
    kept.push(...[...picks].sort((a, b) => a - b));
    group = [];
  };
  for (const index of finite) {
    const at = Math.min(columns - 1, Math.floor((((x[index] ?? first) - first) / span) * columns));
    if (at !== column) {
      flush();
      column = at;
    }
    group.push(index);
  }
  flush();
  return kept;
}

/**
 * Per-chunk upload and total latency against t_avail. Lines, not points: one SVG path per series
 * stays small for a 4 h run (14,400 chunks), where a symbol per chunk weighs megabytes.
 */
function overTimeSpec(report: Report): TopLevelSpec | undefined {
  const { samples, latency } = report;
  const unitStats = latency.total ?? latency.upload;
  if (!unitStats) return undefined;
  const unit = unitFor(unitStats);
  const origin = report.windows.origin ?? samples.tAvail[0] ?? 0;
  const last = samples.tAvail[samples.tAvail.length - 1] ?? origin;
  const inHours = last - origin > 2 * 3_600_000;
  const timeScale = inHours ? 3_600_000 : 60_000;
  const rows: { t: number; series: string; v: number }[] = [];
  const series = [
    ['upload', samples.upload],
    ['total', samples.total],
  ] as const;
  for (const [name, values] of series) {
    for (const index of m4Indices(samples.tAvail, values, plotWidth * 2)) {
      rows.push({ t: ((samples.tAvail[index] ?? origin) - origin) / timeScale, series: name, v: toUnit(values[index] ?? Number.NaN, unit) });
    }
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Latency over time, per chunk',
      subtitle: 'upload = t_uploaded - t_avail; total = t_verified - t_avail',
    },
    width: plotWidth,
    height: 300,
    config: baseConfig,
    data: { values: rows },
    mark: { type: 'line', strokeWidth: 0.8, opacity: 0.85, interpolate: 'linear' },
    encoding: {
      x: { field: 't', type: 'quantitative', title: `t_avail, ${inHours ? 'hours' : 'minutes'} since ${formatTime(origin)}` },
      y: { field: 'v', type: 'quantitative', title: `latency (${unit})` },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: ['upload', 'total'], range: ['#4c78a8', '#e45756'] },
        legend: { orient: 'top', direction: 'horizontal' },
      },
    },
  };
}

/** The plots that have data: upload and total latency histograms, latency over time. */
export function plotSpecs(report: Report): { name: string; title: string; spec: TopLevelSpec }[] {
  const specs: { name: string; title: string; spec: TopLevelSpec }[] = [];
  if (report.latency.upload) {
    specs.push({ name: 'upload-latency', title: 'Upload latency', spec: histogramSpec('Upload latency', report.samples.upload, report.latency.upload) });
  }
  if (report.latency.total) {
    specs.push({ name: 'total-latency', title: 'Total latency', spec: histogramSpec('Total latency', report.samples.total, report.latency.total) });
  }
  const overTime = overTimeSpec(report);
  if (overTime) specs.push({ name: 'latency-over-time', title: 'Latency over time', spec: overTime });
  return specs;
}
