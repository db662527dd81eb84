import type { TopLevelSpec } from 'vega-lite';
import { plural, unitFor } from './format.js';
import { shortTime } from './report-header.js';
import { latencyLabels, type Report } from './report-types.js';
import { latencyWindows } from './time-windows.js';
import { baseConfig, objectiveRules, objectivesOf, plotWidth, schema, title, toUnit } from './plot-common.js';

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
export function overTimeSpec(report: Report): TopLevelSpec | undefined {
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
