import type { TopLevelSpec } from 'vega-lite';
import { formatLatency, formatThreshold, type LatencyUnit } from './format.js';
import { plotCaption } from './report-header.js';
import type { LatencyMetric, ObjectiveResult, Report } from './report-types.js';
import { objectiveSubject, statisticName, valueUnit } from './slo.js';

/** What the report's plots share: font, colours, units, titles and the objectives' rules. */

export const plotFontFamily = 'DejaVu Sans';

export const schema = 'https://vega.github.io/schema/vega-lite/v6.json';

export const baseConfig = {
  font: plotFontFamily,
  // Transparent: plots.ts crops the image to what is drawn, then lays it on white.
  background: 'transparent',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', grid: true },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  title: { fontSize: 14, fontWeight: 'normal', subtitleFontSize: 11, subtitleColor: '#555555', anchor: 'start', offset: 10 },
} satisfies TopLevelSpec['config'];

export const plotWidth = 640;

export const metricColours: Record<LatencyMetric, string> = { pacingError: '#9d755d', upload: '#4c78a8', detection: '#54a24b', total: '#e45756' };
export const metColour = '#2e7d32';
export const missedColour = '#c62828';

export function toUnit(ms: number, unit: LatencyUnit): number {
  return unit === 's' ? ms / 1000 : ms;
}

/** A round bin width (1, 2 or 5 times a power of ten) giving at most about `maxBins` bins. */
export function niceStep(span: number, maxBins: number): number {
  const raw = span > 0 ? span / maxBins : 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= raw);
  return step ?? 10 * power;
}

export function finiteSorted(values: Float64Array): Float64Array {
  return values.filter((value) => Number.isFinite(value)).sort();
}

/** The objectives on one metric, for the plots of that metric. */
export function objectivesOf(report: Report, metric: LatencyMetric): ObjectiveResult[] {
  return report.objectives.filter((result) => result.objective.metric === metric);
}

/** "p99 ≤ 2 s met" / "p99 ≤ 2 s MISSED (3.7 s)": the label of an objective drawn on a plot. */
export function objectiveLabel(result: ObjectiveResult, unit: LatencyUnit, withMetric = false): string {
  const { objective } = result;
  const subject = withMetric ? objectiveSubject(objective) : statisticName(objective.statistic);
  const bound = `${subject} ${objective.comparison === '<=' ? '≤' : '<'} ${formatThreshold(objective.thresholdMs, unit)}`;
  if (result.met) return `${bound} met`;
  return `${bound} MISSED${result.actualMs === null ? '' : ` (${formatLatency(result.actualMs, valueUnit(result.actualMs))})`}`;
}

export function title(text: string, facts: readonly string[], report: Report): { text: string; subtitle: string[] } {
  // One line per fact, so the title never makes the image wider than the plot; the run's settings
  // last, so a plot pasted alone still says which run it shows.
  return { text, subtitle: [...facts, ...plotCaption(report)] };
}

/** Vertical rules with labels for the objectives on a value axis (histograms, CDFs). */
export function objectiveRules(results: readonly ObjectiveResult[], unit: LatencyUnit, field: 'x' | 'y', labelled: boolean): TopLevelSpec[] {
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

