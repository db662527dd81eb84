import type { TopLevelSpec } from 'vega-lite';
import { formatIn, formatLatency, formatSpread, formatThreshold, plural, unitFor, type LatencyUnit } from './format.js';
import { percentileOfSorted } from './latency-stats.js';
import { plotCaption, shortTime } from './report-header.js';
import { latencyLabels, type LatencyMetric, type LatencyStats, type ObjectiveResult, type Report } from './report-types.js';
import { objectiveSubject, statisticName, valueUnit } from './slo.js';
import { latencyWindows } from './time-windows.js';

/** The Vega-Lite specs of the report's plots: pure data, rendered by plots.ts. */

export const plotFontFamily = 'DejaVu Sans';

const schema = 'https://vega.github.io/schema/vega-lite/v6.json';

const baseConfig = {
  font: plotFontFamily,
  // Transparent: plots.ts crops the image to what is drawn, then lays it on white.
  background: 'transparent',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', grid: true },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  title: { fontSize: 14, fontWeight: 'normal', subtitleFontSize: 11, subtitleColor: '#555555', anchor: 'start', offset: 10 },
} satisfies TopLevelSpec['config'];

const plotWidth = 640;

const metricColours: Record<LatencyMetric, string> = { pacingError: '#9d755d', upload: '#4c78a8', detection: '#54a24b', total: '#e45756' };
const metColour = '#2e7d32';
const missedColour = '#c62828';

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

function finiteSorted(values: Float64Array): Float64Array {
  return values.filter((value) => Number.isFinite(value)).sort();
}

/** The objectives on one metric, for the plots of that metric. */
function objectivesOf(report: Report, metric: LatencyMetric): ObjectiveResult[] {
  return report.objectives.filter((result) => result.objective.metric === metric);
}

/** "p99 ≤ 2 s met" / "p99 ≤ 2 s MISSED (3.7 s)": the label of an objective drawn on a plot. */
function objectiveLabel(result: ObjectiveResult, unit: LatencyUnit, withMetric = false): string {
  const { objective } = result;
  const subject = withMetric ? objectiveSubject(objective) : statisticName(objective.statistic);
  const bound = `${subject} ${objective.comparison === '<=' ? '≤' : '<'} ${formatThreshold(objective.thresholdMs, unit)}`;
  if (result.met) return `${bound} met`;
  return `${bound} MISSED${result.actualMs === null ? '' : ` (${formatLatency(result.actualMs, valueUnit(result.actualMs))})`}`;
}

function title(text: string, facts: readonly string[], report: Report): { text: string; subtitle: string[] } {
  // One line per fact, so the title never makes the image wider than the plot; the run's settings
  // last, so a plot pasted alone still says which run it shows.
  return { text, subtitle: [...facts, ...plotCaption(report)] };
}

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

/** Vertical rules with labels for the objectives on a value axis (histograms, CDFs). */
function objectiveRules(results: readonly ObjectiveResult[], unit: LatencyUnit, field: 'x' | 'y', labelled: boolean): TopLevelSpec[] {
  if (results.length === 0) return [];
  const rows = results.map((result, index) => ({
    v: toUnit(result.objective.thresholdMs, unit),
    label: objectiveLabel(result, unit, labelled),
    met: result.met,
    index,
  }));
  const colour = { condition: { test: 'datum.met', value: metColour }, value: missedColour };
  const other = field === 'x' ? 'y' : 'x';
  return [
    {
      data: { values: rows },
      mark: { type: 'rule', strokeDash: [6, 3], strokeWidth: 2 },
      encoding: { [field]: { field: 'v', type: 'quantitative' }, color: colour },
    } as unknown as TopLevelSpec,
    {
      data: { values: rows },
      mark: field === 'x' ? { type: 'text', align: 'left', baseline: 'top', dx: 4, fontSize: 11, angle: 0 } : { type: 'text', align: 'right', baseline: 'bottom', dy: -3, fontSize: 11 },
      encoding: {
        [field]: { field: 'v', type: 'quantitative' },
        [other]: field === 'x' ? { value: { expr: '12 + datum.index * 14' } } : { value: { expr: 'width' } },
        text: { field: 'label' },
        color: colour,
      },
    } as unknown as TopLevelSpec,
  ];
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

/** Widths a latency-over-time bin may have: round durations. */
const niceDurations = [100, 200, 250, 500, 1000, 2000, 3000, 5000, 10_000, 15_000, 20_000, 30_000, 60_000, 120_000, 180_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000];

/** Chunks a bin should hold for its p99 to mean something, and the most bins a plot shows. */
const chunksPerBin = 20;
const maxBins = 120;

/** A bin width giving at most `maxBins` bins of at least about `chunksPerBin` chunks each. */
export function overTimeBinMs(spanMs: number, chunks: number): number {
  const bins = Math.max(1, Math.min(maxBins, Math.floor(chunks / chunksPerBin)));
  const raw = Math.max(spanMs, 1) / bins;
  return niceDurations.find((width) => width >= raw) ?? Math.ceil(raw / 86_400_000) * 86_400_000;
}

/** The time axis: seconds for runs up to 3 minutes, minutes up to 3 hours, hours beyond. */
function timeAxis(spanMs: number): { scale: number; name: string } {
  if (spanMs <= 180_000) return { scale: 1000, name: 'seconds' };
  if (spanMs <= 3 * 3_600_000) return { scale: 60_000, name: 'minutes' };
  return { scale: 3_600_000, name: 'hours' };
}

/**
 * Upload and total latency over the run as rolling percentiles: p50, p90 and p99 per time bin (by
 * t_avail), a few hundred points however long the run, with the percentile objectives as lines.
 */
function overTimeSpec(report: Report): TopLevelSpec | undefined {
  const { samples } = report;
  const metrics = (['upload', 'total'] as const).filter((metric) => report.latency[metric] !== null);
  const first = samples.tAvail[0];
  if (metrics.length === 0 || first === undefined) return undefined;
  const origin = report.windows.origin ?? first;
  const last = samples.tAvail[samples.tAvail.length - 1] ?? origin;
  const spanMs = last - origin + (report.run.periodMs ?? 0);
  const binMs = overTimeBinMs(spanMs, samples.tAvail.length);
  const axis = timeAxis(spanMs);
  const windows = latencyWindows(samples, binMs, origin);
  const fewPoints = windows.length <= 40;
  const percentiles = [
    ['p50', 'median'],
    ['p90', 'p90'],
    ['p99', 'p99'],
  ] as const;
  const panels = metrics.map((metric): TopLevelSpec => {
    const stats = report.latency[metric];
    const unit = stats ? unitFor(stats) : 'ms';
    const rows: { t: number; stat: string; v: number; chunks: number }[] = [];
    for (const window of windows) {
      const windowStats = window.latency[metric];
      if (!windowStats) continue;
      for (const [name, field] of percentiles) {
        rows.push({ t: (window.start + binMs / 2 - origin) / axis.scale, stat: name, v: toUnit(windowStats[field], unit), chunks: windowStats.count });
      }
    }
    const objectives = objectivesOf(report, metric).filter((result) => result.objective.statistic.kind !== 'mean');
    return {
      title: { text: latencyLabels[metric], fontSize: 12 },
      width: plotWidth,
      height: 170,
      layer: [
        {
          data: { values: rows },
          mark: { type: 'line', strokeWidth: 1.6, point: fewPoints ? { size: 18 } : false },
          encoding: {
            x: { field: 't', type: 'quantitative', title: `t_avail, ${axis.name} since ${shortTime(origin)}`, scale: { nice: false, domain: [0, spanMs / axis.scale] } },
            y: { field: 'v', type: 'quantitative', title: unit },
            color: {
              field: 'stat',
              type: 'nominal',
              title: `per ${formatWindowShort(binMs)} of t_avail`,
              scale: { domain: percentiles.map(([name]) => name), range: ['#4c78a8', '#f58518', '#e45756'] },
              legend: { orient: 'top', direction: 'horizontal' },
            },
          },
        },
        ...(objectiveRules(objectives, unit, 'y', false) as never[]),
      ],
    } as unknown as TopLevelSpec;
  });
  return {
    $schema: schema,
    title: title(
      'Latency over time: rolling percentiles',
      [
        `p50, p90 and p99 of the chunks in each ${formatWindowShort(binMs)} of t_avail (${plural(windows.length, 'window')})` +
          (report.objectives.some((result) => result.objective.statistic.kind !== 'mean' && metrics.includes(result.objective.metric as never)) ? '; dashed: objectives' : ''),
      ],
      report,
    ),
    config: baseConfig,
    vconcat: panels,
    resolve: { scale: { x: 'shared', color: 'shared' } },
  } as unknown as TopLevelSpec;
}

/** "2 s", "5 min", "1 h", "250 ms". */
function formatWindowShort(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
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
