import { formatCount, formatIn, unitFor, type LatencyUnit } from './format.js';
import { verdictLabel } from './verdict.js';
import { latencyLabels, type LatencyMetric, type LatencyStats, type Report } from './report-types.js';

/**
 * `report --compare OTHER_RUN`: two runs side by side, this run first. One row per number that
 * tells the runs apart: the verdict, the integrity counts, and for upload, detection and total
 * latency the median, p90, p99 and max, with the change from the other run to this one.
 */
export interface ComparisonRow {
  label: string;
  self: string;
  other: string;
  /** "+0.20 s (+11 %)", "-3", "=" for the same latency, or "" for a row without a difference to show. */
  change: string;
}

const compared: readonly LatencyMetric[] = ['upload', 'detection', 'total'];
const statistics = [
  ['median', 'median'],
  ['p90', 'p90'],
  ['p99', 'p99'],
  ['max', 'max'],
] as const;

function signed(value: string, negative: boolean): string {
  return `${negative ? '-' : '+'}${value}`;
}

function latencyChange(self: number, other: number, unit: LatencyUnit): string {
  const difference = self - other;
  // The same at the precision shown: no "+0.00 ms (+0 %)".
  if (Number(formatIn(Math.abs(difference), unit)) === 0) return '=';
  const percent = other > 0 ? ` (${signed(`${Math.abs(Math.round((difference / other) * 100))} %`, difference < 0)})` : '';
  return `${signed(`${formatIn(Math.abs(difference), unit)} ${unit}`, difference < 0)}${percent}`;
}

function countChange(self: number, other: number): string {
  return self === other ? '' : signed(formatCount(Math.abs(self - other)), self < other);
}

export function comparisonRows(report: Report, other: Report): ComparisonRow[] {
  const rows: ComparisonRow[] = [
    { label: 'run', self: report.run.id, other: other.run.id, change: '' },
    { label: 'verdict', self: verdictLabel(report.verdict.state), other: verdictLabel(other.verdict.state), change: '' },
  ];
  const counts = [
    ['scheduled', 'scheduled'],
    ['uploaded', 'uploaded'],
    ['verified', 'verified'],
    ['missing', 'missing'],
    ['corrupted', 'corrupted'],
    ['late', 'late'],
  ] as const;
  for (const [label, key] of counts) {
    rows.push({ label, self: formatCount(report.integrity[key]), other: formatCount(other.integrity[key]), change: countChange(report.integrity[key], other.integrity[key]) });
  }
  for (const metric of compared) {
    const mine = report.latency[metric];
    const theirs = other.latency[metric];
    if (!mine && !theirs) continue;
    const unit = unitFor((mine ?? theirs) as LatencyStats);
    for (const [name, field] of statistics) {
      const cell = (stats: LatencyStats | null): string => (stats ? `${formatIn(stats[field], unit)} ${unit}` : '-');
      rows.push({
        label: `${latencyLabels[metric]} ${name}`,
        self: cell(mine),
        other: cell(theirs),
        change: mine && theirs ? latencyChange(mine[field], theirs[field], unit) : '',
      });
    }
  }
  if (report.objectives.length > 0) {
    const met = (run: Report): string => `${formatCount(run.objectives.filter((result) => result.met).length)} of ${formatCount(run.objectives.length)}`;
    rows.push({ label: 'objectives met', self: met(report), other: met(other), change: '' });
  }
  return rows;
}
