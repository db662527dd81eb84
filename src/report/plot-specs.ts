import type { TopLevelSpec } from 'vega-lite';
import { formatIn, formatLatency, formatSpread, plural, unitFor, type LatencyUnit } from './format.js';
import { percentileOfSorted } from './latency-stats.js';
import { plotCaption } from './report-header.js';
import { latencyLabels, type LatencyMetric, type LatencyStats, type ObjectiveResult, type Report } from './report-types.js';
import { baseConfig, finiteSorted, metColour, missedColour, metricColours, niceStep, objectiveLabel, objectiveRules, objectivesOf, plotWidth, schema, title, toUnit } from './plot-common.js';
import { overTimeSpec } from './plot-over-time.js';

export { plotFontFamily } from './plot-common.js';

/** The Vega-Lite specs of the report's plots: pure data, rendered by plots.ts. */

interface Histogram {
  bins: { lo: number; hi: number; count: number }[];
  /** Values above the drawn range (a long tail would squash the body of the histogram). */
  clipped: number;
  lower: number;
  upper: number;
}

/**
 * Bins computed here rather than by Vega-Lite: the spec carries ~50 rows instead of one per chunk,
 * and the axis gets ordinary ticks. A tail beyond twice the 99.9th percentile is cut and counted;
 * `include` (objective thresholds) widens the range when it lies near the data.
 */
function histogram(sorted: Float64Array, stats: LatencyStats, unit: LatencyUnit, include: readonly number[]): Histogram {
  const p999 = percentileOfSorted(sorted, 0.999);
  const upperMs = stats.max > 2 * p999 && p999 > stats.min ? p999 : stats.max;
  let lower = toUnit(stats.min, unit);
  let upper = toUnit(upperMs, unit);
  const span = upper - lower || Math.abs(upper) || 1;
  for (const value of include) {
    // An objective far beyond the data would squash it: such an objective is named in the subtitle instead.
    if (value > upper && value <= upper + 2 * span) upper = value;
    if (value < lower && value >= lower - 2 * span) lower = value;
  }
  const step = niceStep(upper - lower, 50);
  const start = Math.floor(lower / step) * step;
  const counts = new Map<number, number>();
  let clipped = 0;
  const last = Math.floor((toUnit(upperMs, unit) - start) / step);
  for (const ms of sorted) {
    const value = toUnit(ms, unit);
    if (value > toUnit(upperMs, unit)) {
      clipped++;
      continue;
    }
    const index = Math.min(Math.floor((value - start) / step), last);
    counts.set(index, (counts.get(index) ?? 0) + 1);
  }
  const bins = [...counts.entries()].map(([index, count]) => ({ lo: start + index * step, hi: start + (index + 1) * step, count }));
  return { bins, clipped, lower: Math.min(lower, start), upper: Math.max(upper, (last + 1) * step + start) };
}
/** Histogram with the p16..p84 spread (band), mean (solid), median (dashed) and the metric's objectives. */
function histogramSpec(report: Report, metric: LatencyMetric, label: string): TopLevelSpec | undefined {
  const stats = report.latency[metric];
  if (!stats) return undefined;
  const unit = unitFor(stats);
  const sorted = finiteSorted(report.samples[metric]);
  const objectives = objectivesOf(report, metric);
  const { bins, clipped, lower, upper } = histogram(sorted, stats, unit, objectives.map((result) => toUnit(result.objective.thresholdMs, unit)));
  const drawn = objectives.filter((result) => {
    const value = toUnit(result.objective.thresholdMs, unit);
    return value >= lower && value <= upper;
  });
  const facts = [
    `${plural(stats.count, 'chunk')}; band: 16th to 84th percentile; solid: mean; dashed: median${drawn.length > 0 ? '; coloured dashes: objectives' : ''}`,
    ...(clipped > 0 ? [`${plural(clipped, 'chunk')} above ${formatIn(upper * (unit === 's' ? 1000 : 1), unit)} ${unit} not drawn (max ${formatLatency(stats.max, unit)})`] : []),
    ...objectives.filter((result) => !drawn.includes(result)).map((result) => `objective ${objectiveLabel(result, unit)}, beyond the axis`),
  ];
  return {
    $schema: schema,
    title: title(`${label}: median ${formatSpread(stats, unit)}, p99 ${formatLatency(stats.p99, unit)}`, facts, report),
    width: plotWidth,
    height: 280,
    config: baseConfig,
    encoding: { x: { type: 'quantitative', scale: { zero: false, nice: false, domain: [lower, upper] } } },
    layer: [
      {
        data: { values: [{ lo: toUnit(stats.p16, unit), hi: toUnit(stats.p84, unit) }] },
        mark: { type: 'rect', color: '#f2b134', opacity: 0.25 },
        encoding: { x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' } },
      },
      {
        data: { values: bins },
        mark: { type: 'bar', color: metricColours[metric], binSpacing: 1 },
        encoding: {
          x: { field: 'lo', type: 'quantitative', bin: { binned: true }, title: `${label} (${unit})` },
          x2: { field: 'hi' },
          y: { field: 'count', type: 'quantitative', title: 'chunks' },
        },
      },
      {
        data: { values: [{ v: toUnit(stats.mean, unit) }] },
        mark: { type: 'rule', color: '#333333', strokeWidth: 1.5 },
        encoding: { x: { field: 'v', type: 'quantitative' } },
      },
      {
        data: { values: [{ v: toUnit(stats.median, unit) }] },
        mark: { type: 'rule', color: '#333333', strokeDash: [4, 3], strokeWidth: 1.5 },
        encoding: { x: { field: 'v', type: 'quantitative' } },
      },
      ...(objectiveRules(drawn, unit, 'x', false) as never[]),
    ],
  };
}

/** Probabilities at which a CDF is drawn: every half percent, then finer into the tail. */
const cdfProbabilities = [
  ...Array.from({ length: 200 }, (_, index) => index / 200),
  ...Array.from({ length: 9 }, (_, index) => 0.991 + index * 0.001),
  0.9995,
  0.9999,
  1,
];

interface CdfSeries {
  series: string;
  sorted: Float64Array;
}

function cdfRows(series: readonly CdfSeries[], unit: LatencyUnit, logScale: boolean): { series: string; v: number; p: number }[] {
  const rows: { series: string; v: number; p: number }[] = [];
  for (const { series: name, sorted } of series) {
    if (sorted.length === 0) continue;
    for (const p of cdfProbabilities) {
      const v = toUnit(percentileOfSorted(sorted, p), unit);
      if (logScale && !(v > 0)) continue;
      rows.push({ series: name, v, p });
    }
  }
  return rows;
}

/** Log when the tail is an order of magnitude beyond the body, and every value is positive. */
function wantsLogScale(series: readonly CdfSeries[]): boolean {
  let spread = 0;
  for (const { sorted } of series) {
    const low = percentileOfSorted(sorted, 0.01);
    const median = percentileOfSorted(sorted, 0.5);
    const max = sorted[sorted.length - 1] ?? 0;
    if (!(low > 0)) return false;
    spread = Math.max(spread, max / median);
  }
  return spread >= 8;
}

/** The CDF chart of several series (colour by series, optional dash by a second field). */
function cdfLayers(rows: { series: string; v: number; p: number }[], domain: string[], colours: string[], unit: LatencyUnit, logScale: boolean, dash?: { field: string; domain: string[] }): TopLevelSpec[] {
  return [
    {
      data: { values: rows },
      mark: { type: 'line', strokeWidth: 2, interpolate: 'step-after' },
      encoding: {
        x: {
          field: 'v',
          type: 'quantitative',
          title: `latency (${unit}${logScale ? ', log scale' : ''})`,
          scale: logScale ? { type: 'log' } : { zero: false },
        },
        y: { field: 'p', type: 'quantitative', title: 'fraction of chunks at or below', axis: { format: '%' }, scale: { domain: [0, 1] } },
        color: { field: 'series', type: 'nominal', title: null, scale: { domain, range: colours }, legend: { orient: 'bottom', direction: 'horizontal' } },
        ...(dash ? { strokeDash: { field: dash.field, type: 'nominal', title: null, scale: { domain: dash.domain, range: [[1, 0], [6, 3], [2, 2]] }, legend: { orient: 'bottom', direction: 'horizontal' } } } : {}),
      },
    } as unknown as TopLevelSpec,
  ];
}

/** Lines of at most about `width` characters, joining `parts` with "; ". */
function wrapped(prefix: string, parts: readonly string[], width = 100): string[] {
  const lines: string[] = [];
  let line = prefix;
  for (const part of parts) {
    const next = line === prefix ? `${line}${part}` : `${line}; ${part}`;
    if (next.length > width && line !== prefix) {
      lines.push(line);
      line = `${' '.repeat(2)}${part}`;
    } else {
      line = next;
    }
  }
  if (line !== prefix) lines.push(line);
  return lines;
}

/**
 * Objectives on a CDF: a numbered diamond at (threshold, percentile) each (a max is at 100 %),
 * green when met, red when missed; the subtitle lines say what each number is. A mean has no place
 * on a CDF: it is named in the subtitle only.
 */
function cdfObjectives(results: readonly ObjectiveResult[], metrics: readonly LatencyMetric[], unit: LatencyUnit, logScale: boolean): { layers: TopLevelSpec[]; lines: string[] } {
  const relevant = results.filter((result) => metrics.includes(result.objective.metric));
  const placed = relevant.filter((result) => result.objective.statistic.kind !== 'mean' && (!logScale || result.objective.thresholdMs > 0));
  const markers = placed.map((result, index) => ({
    v: toUnit(result.objective.thresholdMs, unit),
    p: result.objective.statistic.kind === 'percentile' ? result.objective.statistic.percentile / 100 : 1,
    n: String(index + 1),
    met: result.met,
  }));
  const colour = { condition: { test: 'datum.met', value: metColour }, value: missedColour };
  const lines = [
    ...wrapped('objectives (diamonds): ', placed.map((result, index) => `${index + 1} ${objectiveLabel(result, unit, true)}`)),
    ...wrapped('objectives: ', relevant.filter((result) => !placed.includes(result)).map((result) => objectiveLabel(result, unit, true))),
  ];
  if (markers.length === 0) return { layers: [], lines };
  const position = { x: { field: 'v', type: 'quantitative' }, y: { field: 'p', type: 'quantitative' } };
  return {
    layers: [
      { data: { values: markers }, mark: { type: 'point', shape: 'diamond', size: 100, filled: true, opacity: 1 }, encoding: { ...position, color: colour } },
      { data: { values: markers }, mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 6, dy: -4, fontSize: 12 }, encoding: { ...position, text: { field: 'n' }, color: colour } },
    ] as unknown as TopLevelSpec[],
    lines,
  };
}

/** Upload latency, detection delay and total latency as CDFs, with each percentile objective as a marker. */
function cdfSpec(report: Report): TopLevelSpec | undefined {
  const metrics = (['upload', 'detection', 'total'] as const).filter((metric) => report.latency[metric] !== null);
  if (metrics.length === 0) return undefined;
  const unitStats = report.latency.total ?? report.latency.upload ?? report.latency.detection;
  const unit = unitStats ? unitFor(unitStats) : 'ms';
  const series = metrics.map((metric) => ({ series: latencyLabels[metric], sorted: finiteSorted(report.samples[metric]) }));
  const logScale = wantsLogScale(series);
  const rows = cdfRows(series, unit, logScale);
  const objectives = cdfObjectives(report.objectives, metrics, unit, logScale);
  return {
    $schema: schema,
    title: title('Latency distribution (CDF)', ['each curve: the fraction of chunks whose latency is at or below x', ...objectives.lines], report),
    width: plotWidth,
    height: 300,
    config: baseConfig,
    layer: [
      ...(cdfLayers(rows, metrics.map((metric) => latencyLabels[metric]), metrics.map((metric) => metricColours[metric]), unit, logScale) as never[]),
      ...(objectives.layers as never[]),
    ],
  };
}

/**
 * Two runs' upload and total latency CDFs on one chart (`report --compare`): colour by run, dash by
 * metric, with this run's objectives as markers.
 */
function compareSpec(report: Report, other: Report): TopLevelSpec | undefined {
  const metrics = (['upload', 'total'] as const).filter((metric) => report.latency[metric] !== null || other.latency[metric] !== null);
  if (metrics.length === 0) return undefined;
  const unitStats = report.latency.total ?? other.latency.total ?? report.latency.upload ?? other.latency.upload;
  const unit = unitStats ? unitFor(unitStats) : 'ms';
  const runs = [
    { label: `this run ${report.run.id}`, report },
    { label: `other run ${other.run.id}`, report: other },
  ];
  const series = runs.flatMap((run) => metrics.map((metric) => ({ run: run.label, metric: latencyLabels[metric], series: `${run.label}|${latencyLabels[metric]}`, sorted: finiteSorted(run.report.samples[metric]) })));
  const present = series.filter((entry) => entry.sorted.length > 0);
  const logScale = wantsLogScale(present);
  const rows = cdfRows(present, unit, logScale).map((row) => {
    const [run = '', metric = ''] = row.series.split('|');
    return { ...row, series: run, metric };
  });
  const objectives = cdfObjectives(report.objectives, metrics, unit, logScale);
  return {
    $schema: schema,
    title: {
      text: 'Two runs compared: latency CDFs',
      subtitle: [
        'colour: run; line style: metric',
        ...objectives.lines,
        ...plotCaption(report).slice(0, 2).map((line) => `this: ${line}`),
        ...plotCaption(other).slice(0, 2).map((line) => `other: ${line}`),
      ],
    },
    width: plotWidth,
    height: 300,
    config: baseConfig,
    layer: [
      ...(cdfLayers(rows, runs.map((run) => run.label), ['#e45756', '#4c78a8'], unit, logScale, { field: 'metric', domain: metrics.map((metric) => latencyLabels[metric]) }) as never[]),
      ...(objectives.layers as never[]),
    ],
  };
}

export interface PlotSpec {
  /** File stem. */
  name: string;
  title: string;
  spec: TopLevelSpec;
}

/**
 * The plots that have data: histograms of upload latency, detection delay and total latency, their
 * CDFs, latency over time, and with `compare` the two runs' CDFs overlaid.
 */
export function plotSpecs(report: Report, options: { compare?: Report } = {}): PlotSpec[] {
  const candidates: [string, string, TopLevelSpec | undefined][] = [
    ['upload-latency', 'Upload latency', histogramSpec(report, 'upload', 'Upload latency')],
    ['detection-delay', 'Detection delay', histogramSpec(report, 'detection', 'Detection delay')],
    ['total-latency', 'Total latency', histogramSpec(report, 'total', 'Total latency')],
    ['latency-cdf', 'Latency distribution (CDF)', cdfSpec(report)],
    ['latency-over-time', 'Latency over time', overTimeSpec(report)],
    ['compare-cdf', 'Two runs compared', options.compare ? compareSpec(report, options.compare) : undefined],
  ];
  return candidates.flatMap(([name, plotTitle, spec]) => (spec ? [{ name, title: plotTitle, spec }] : []));
}

