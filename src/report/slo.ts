import { readFile } from 'node:fs/promises';
import { parseDuration } from '../common/duration.js';
import { ExitCode, UsageError, errorMessage } from '../common/errors.js';
import { formatLatency, formatThreshold, type LatencyUnit } from './format.js';
import { percentileOfSorted } from './latency-stats.js';
import type { LatencyMetric, LatencyObjective, LatencySamples, ObjectiveResult, ObjectiveStatistic, Verdict } from './report-types.js';

/**
 * Latency objectives (`--slo total.p50<=300ms,total.p99<=2s,upload.p99<=1s`): upper bounds on a
 * statistic of a latency metric over every chunk of the run, so that CI can gate on latency as it
 * gates on integrity. Parsed and checked once at the boundary (a typo is exit 2, never an objective
 * silently ignored); judged from the exact per-chunk values.
 */

/** The names an objective uses for each metric (the report's own `pacingError` reads `pacing`). */
const metricNames: Record<string, LatencyMetric> = {
  upload: 'upload',
  detection: 'detection',
  total: 'total',
  pacing: 'pacingError',
  pacing_error: 'pacingError',
};

const objectiveNameOf: Record<LatencyMetric, string> = { pacingError: 'pacing', upload: 'upload', detection: 'detection', total: 'total' };

export const latencyObjectiveExitCode = ExitCode.latency;

const example = 'e.g. total.p99<=2s or upload.p50<300ms';

function statisticOf(text: string): ObjectiveStatistic | undefined {
  if (text === 'median') return { kind: 'percentile', percentile: 50 };
  if (text === 'mean' || text === 'avg') return { kind: 'mean' };
  if (text === 'max') return { kind: 'max' };
  const match = /^p(\d{1,2}(?:\.\d+)?|100)$/.exec(text);
  if (!match) return undefined;
  const percentile = Number(match[1]);
  if (!(percentile > 0 && percentile <= 100)) return undefined;
  return percentile === 100 ? { kind: 'max' } : { kind: 'percentile', percentile };
}

/** "p99", "p99.9", "mean", "max" (median is written p50). */
export function statisticName(statistic: ObjectiveStatistic): string {
  return statistic.kind === 'percentile' ? `p${statistic.percentile}` : statistic.kind;
}

/** "total.p99": the objective's metric and statistic. */
export function objectiveSubject(objective: LatencyObjective): string {
  return `${objectiveNameOf[objective.metric]}.${statisticName(objective.statistic)}`;
}

/** One objective, `metric.statistic<=threshold`, spaces allowed around the parts. */
export function parseObjective(text: string, flag = '--slo'): LatencyObjective {
  const trimmed = text.trim();
  const invalid = (why: string): UsageError => new UsageError(`invalid ${flag} '${trimmed}': ${why}`);
  const match = /^([A-Za-z_]+)\s*\.\s*([A-Za-z0-9.]+)\s*(<=|<|>=|>|==|=)\s*(.*)$/.exec(trimmed);
  if (!match) throw invalid(`write metric.statistic<=threshold, ${example}`);
  const [, metricText = '', statisticText = '', comparison = '', thresholdText = ''] = match;
  const metric = metricNames[metricText.toLowerCase()];
  if (metric === undefined) throw invalid(`unknown metric '${metricText}': use upload, detection, total or pacing`);
  const statistic = statisticOf(statisticText.toLowerCase());
  if (statistic === undefined) throw invalid(`unknown statistic '${statisticText}': use a percentile (p50, p90, p99, p99.9), median, mean or max`);
  if (comparison !== '<=' && comparison !== '<') throw invalid(`'${comparison}': an objective is an upper bound, written with <= or <, ${example}`);
  const threshold = thresholdText.trim();
  if (threshold === '') throw invalid(`no threshold after '${comparison}': ${example}`);
  if (/^[\d.]+$/.test(threshold)) throw invalid(`the threshold '${threshold}' has no unit: write e.g. ${threshold}s or ${threshold}ms`);
  const thresholdMs = parseDuration(threshold, `${flag} threshold in '${trimmed}'`);
  if (!(thresholdMs > 0)) throw invalid(`the threshold must be positive, ${example}`);
  const subject = `${objectiveNameOf[metric]}.${statisticName(statistic)}`;
  return { text: `${subject}${comparison}${threshold.replace(/\s+/g, '')}`, metric, statistic, comparison, thresholdMs };
}

/**
 * Every objective of the given flag values: each value holds one or more objectives separated by
 * commas, semicolons or line breaks; `@file` reads them from a file (one or more per line, `#`
 * starts a comment). The same objective twice is kept once.
 */
export async function readObjectives(values: readonly string[], flag = '--slo'): Promise<LatencyObjective[]> {
  const texts: string[] = [];
  for (const value of values) {
    if (value.trim().startsWith('@')) {
      const path = value.trim().slice(1);
      let content: string;
      try {
        content = await readFile(path, 'utf8');
      } catch (error) {
        throw new UsageError(`cannot read ${flag} file '${path}': ${errorMessage(error)}; give objectives inline (${example}) or an existing @file`);
      }
      texts.push(...content.split('\n').map((line) => line.replace(/#.*$/, '')));
    } else {
      texts.push(value);
    }
  }
  const objectives = new Map<string, LatencyObjective>();
  for (const part of texts.flatMap((text) => text.split(/[,;\n]/))) {
    if (part.trim() === '') continue;
    const objective = parseObjective(part, flag);
    objectives.set(objective.text, objective);
  }
  if (values.length > 0 && objectives.size === 0) throw new UsageError(`${flag} names no objective: ${example}`);
  return [...objectives.values()];
}

/** The statistic of one metric's finite values, exactly (percentiles as in the latency table). */
function statisticValue(sorted: Float64Array, statistic: ObjectiveStatistic): number | null {
  if (sorted.length === 0) return null;
  switch (statistic.kind) {
    case 'percentile':
      return percentileOfSorted(sorted, statistic.percentile / 100);
    case 'max':
      return sorted[sorted.length - 1] ?? null;
    case 'mean': {
      let sum = 0;
      for (const value of sorted) sum += value;
      return sum / sorted.length;
    }
  }
}

/** Judges each objective on the run's per-chunk values. */
export function evaluateObjectives(objectives: readonly LatencyObjective[], samples: LatencySamples): ObjectiveResult[] {
  const sortedByMetric = new Map<LatencyMetric, Float64Array>();
  const sortedOf = (metric: LatencyMetric): Float64Array => {
    let sorted = sortedByMetric.get(metric);
    if (!sorted) {
      sorted = samples[metric].filter((value) => Number.isFinite(value)).sort();
      sortedByMetric.set(metric, sorted);
    }
    return sorted;
  };
  return objectives.map((objective) => {
    const actualMs = statisticValue(sortedOf(objective.metric), objective.statistic);
    const met = actualMs !== null && (objective.comparison === '<=' ? actualMs <= objective.thresholdMs : actualMs < objective.thresholdMs);
    return { objective, actualMs, met };
  });
}

/** Seconds for thresholds of a second or more, so that "2 s" is not "2000 ms". */
export function objectiveUnit(objective: LatencyObjective): LatencyUnit {
  return objective.thresholdMs >= 1000 ? 's' : 'ms';
}

/** The unit a measured value reads best in: seconds from a second up ("2.84 s", not "2843 ms"). */
export function valueUnit(ms: number): LatencyUnit {
  return Math.abs(ms) >= 1000 ? 's' : 'ms';
}

/** "total.p99 3.70 s > 2.00 s" (missed) or "total.p99 1.20 s <= 2.00 s" (met); "total.p99 not measured (no chunk has a value)". */
export function objectiveOutcome(result: ObjectiveResult): string {
  const { objective, actualMs, met } = result;
  if (actualMs === null) return `${objectiveSubject(objective)} not measured (no chunk has a value)`;
  const unit = objectiveUnit(objective);
  const relation = met ? objective.comparison : objective.comparison === '<=' ? '>' : '>=';
  return `${objectiveSubject(objective)} ${formatLatency(actualMs, valueUnit(actualMs))} ${relation} ${formatThreshold(objective.thresholdMs, unit)}`;
}

/**
 * The verdict with the objectives applied: a run whose chunks all arrived intact (a pass, or a run
 * stopped early with nothing lost) but that missed an objective is a FAIL with exit 6; an integrity
 * failure stays exit 3 and no verdict stays exit 5, their summary naming the missed objectives too.
 */
export function applyObjectives(verdict: Verdict, results: readonly ObjectiveResult[]): Verdict {
  const missed = results.filter((result) => !result.met);
  if (missed.length === 0) return verdict;
  const what = `${missed.length === 1 ? 'latency objective' : `${missed.length} of ${results.length} latency objectives`} missed: ${missed.map(objectiveOutcome).join(', ')}`;
  switch (verdict.state) {
    case 'fail':
    case 'no-verdict':
      return { ...verdict, summary: `${verdict.summary}; ${what}` };
    case 'pass':
    case 'interrupted':
    case 'unfinished':
      return { ok: false, state: 'fail', exitCode: latencyObjectiveExitCode, summary: `${what}; ${verdict.summary}` };
  }
}
