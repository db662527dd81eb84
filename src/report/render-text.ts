import { table } from '../common/output.js';
import { terminalValue } from '../common/terminal-text.js';
import { formatCount, formatWindow, formatIn, formatLatency, formatSpread, formatThreshold, formatTime, plural, unitFor, type LatencyUnit } from './format.js';
import { comparisonRows } from './compare.js';
import { headerFields } from './report-header.js';
import { objectiveSubject, objectiveUnit, valueUnit } from './slo.js';
import { verdictLabel } from './verdict.js';
import { isProblem, latencyLabels, latencyMetrics, type ChunkListingEntry, type LatencyStats, type Report } from './report-types.js';

export interface RenderTextOptions {
  /** Include the per-window table (default true). */
  windows?: boolean;
  /** `report --compare`: the other run, side by side before the verdict line. */
  compare?: Report;
}

function rightAlign(cells: string[]): string[] {
  const width = Math.max(...cells.map((cell) => cell.length));
  return cells.map((cell) => cell.padStart(width));
}

/** Every run setting the logs give, one field a line: which run, when, what was sent where, by whom. */
function headerBlock(report: Report): string[] {
  const fields = headerFields(report);
  const width = Math.max(...fields.map((field) => field.label.length));
  // Values come from logs: a line break in one must not make a line of its own.
  return fields.map((field, index) => `${index === 0 ? '' : '  '}${field.label.padEnd(index === 0 ? 0 : width)}${index === 0 ? ' ' : '  '}${terminalValue(field.value)}`);
}

/** Each latency objective (--slo) with its value and whether it was met. */
function objectivesBlock(report: Report): string[] {
  if (report.objectives.length === 0) return [];
  const rows = report.objectives.map((result) => {
    const unit = objectiveUnit(result.objective);
    return [
      `  ${objectiveSubject(result.objective)} ${result.objective.comparison} ${formatThreshold(result.objective.thresholdMs, unit)}`,
      result.actualMs === null ? 'no value' : formatLatency(result.actualMs, valueUnit(result.actualMs)),
      result.met ? 'met' : 'MISSED',
    ];
  });
  const missed = report.objectives.filter((result) => !result.met).length;
  return [`latency objectives (${missed === 0 ? 'all met' : `${formatCount(missed)} missed`})`, ...table([['  objective', 'actual', ''], ...rows]).split('\n').map((line) => line.trimEnd())];
}

function integrityBlock(report: Report): string[] {
  const i = report.integrity;
  const stoppedEarly = report.completion.state !== 'complete';
  const skipped = Object.entries(i.skippedByReason)
    .map(([reason, count]) => `${reason} ${formatCount(count)}`)
    .join(', ');
  // The counts every run has are always shown; the rest only when they happened, so that the
  // block of a clean 4-hour run fits on a screen. --json has every count.
  const rows: [string, number, string, 'always' | 'nonzero'][] = [
    ['scheduled', i.scheduled, i.scheduledSource === 'run_started' ? 'from run_started' : 'highest seq + 1 (no run_started.scheduled)', 'always'],
    [stoppedEarly ? 'not produced' : 'in no log', i.unaccounted, stoppedEarly ? 'the run stopped before them' : 'scheduled seq never logged', 'nonzero'],
    ['uploaded', i.uploaded, '', 'always'],
    ['failed uploads', i.failedUploads, '', 'nonzero'],
    ['skipped', i.skipped, `by reason: ${skipped}`, 'nonzero'],
    ['late', i.late, 'emitted after their due time', 'nonzero'],
    ['downloaded', i.downloaded, '', 'always'],
    ['verified', i.verified, i.recovered > 0 ? `${formatCount(i.recovered)} recovered after a corrupted read` : '', 'always'],
    ['corrupted', i.corrupted, 'chunks never read intact', 'always'],
    ['corrupted reads', i.corruptedReads, `reads that did not match the catalog, of ${plural(i.chunksWithCorruptedRead, 'chunk')} (${formatCount(i.recovered)} recovered)`, 'nonzero'],
    ['invalid', i.invalid, 'bytes match the catalog, but not a valid chunk (content error)', 'nonzero'],
    ['missing', i.missing, i.downloadFailures > 0 ? plural(i.downloadFailures, 'download failure') : 'uploaded, never verified', 'always'],
    ['in flight', i.inFlight, 'uploaded, not yet downloaded when the run stopped', 'nonzero'],
    ['duplicates', i.duplicateUploads + i.duplicateVerifications, `${formatCount(i.duplicateUploads)} uploaded twice or more, ${formatCount(i.duplicateVerifications)} verified twice or more`, 'nonzero'],
    ['not in upload log', i.notInUploadLog, '', 'nonzero'],
    ['foreign', i.foreign, 'files in the dataset that are not wavefier chunks, verified against the catalog (not in any other count)', 'nonzero'],
  ];
  const shown = rows.filter(([, count, , when]) => when === 'always' || count > 0);
  const counts = rightAlign(shown.map(([, count]) => formatCount(count)));
  const body = table(shown.map(([label, , note], index) => [`  ${label}`, counts[index] ?? '', note]));
  return [`integrity${stoppedText(report)}`, ...body.split('\n').map((line) => line.trimEnd())];
}

const endingText = { interrupted: 'was interrupted', unfinished: 'has no run_finished (still running, or killed)' } as const;

/** " (upload was interrupted, download has no run_finished ...)" for a run stopped early. */
function stoppedText(report: Report): string {
  const { completion } = report;
  if (completion.state === 'complete') return '';
  const sides = (['upload', 'download'] as const).flatMap((side) => {
    const ending = completion[side];
    return ending === 'interrupted' || ending === 'unfinished' ? [`${side} ${endingText[ending]}`] : [];
  });
  return ` (stopped early: ${sides.join(', ')})`;
}

/** "3, 5-9, 12": sequence numbers as ranges (a stopped run leaves thousands in one range). */
function formatSeqRanges(seqs: readonly number[], maxRanges = 10): string {
  const ranges: string[] = [];
  let index = 0;
  while (index < seqs.length && ranges.length < maxRanges) {
    const first = seqs[index] ?? 0;
    let last = first;
    while (index + 1 < seqs.length && seqs[index + 1] === last + 1) last = seqs[++index] ?? last;
    ranges.push(first === last ? String(first) : `${first}-${last}`);
    index++;
  }
  return index < seqs.length ? `${ranges.join(', ')}, ...` : ranges.join(', ');
}

function statsCells(stats: LatencyStats | null, unit: LatencyUnit): string[] {
  if (!stats) return ['0', '-', '-', '-', '-', '-'];
  return [
    formatCount(stats.count),
    formatSpread(stats, unit),
    `${formatIn(stats.mean, unit)} ${unit}`,
    `${formatIn(stats.p90, unit)} ${unit}`,
    `${formatIn(stats.p99, unit)} ${unit}`,
    `${formatIn(stats.max, unit)} ${unit}`,
  ];
}

function latencyBlock(report: Report): string[] {
  if (latencyMetrics.every((metric) => report.latency[metric] === null)) return ['latency: no chunk has upload or download times'];
  const rows = [['  metric', 'count', 'median -p16 +p84', 'mean', 'p90', 'p99', 'max']];
  for (const metric of latencyMetrics) {
    const stats = report.latency[metric];
    rows.push([`  ${latencyLabels[metric]}`, ...statsCells(stats, stats ? unitFor(stats) : 'ms')]);
  }
  return ['latency (median -a +b: the middle 68 % of chunks lie between median - a and median + b, i.e. p16 and p84)', table(rows)];
}

function windowBlock(report: Report): string[] {
  const { windows, latency } = report;
  if (windows.items.length < 2) return [];
  const uploadUnit = latency.upload ? unitFor(latency.upload) : 'ms';
  const totalUnit = latency.total ? unitFor(latency.total) : 'ms';
  const cell = (stats: LatencyStats | null, pick: 'median' | 'p99', unit: LatencyUnit): string => (stats ? `${formatIn(stats[pick], unit)} ${unit}` : '-');
  const rows = [[`  window (${windows.labelPattern})`, 'chunks', 'upload median', 'upload p99', 'total median', 'total p99']];
  for (const window of windows.items) {
    rows.push([
      `  ${window.label}`,
      formatCount(window.chunks),
      cell(window.latency.upload, 'median', uploadUnit),
      cell(window.latency.upload, 'p99', uploadUnit),
      cell(window.latency.total, 'median', totalUnit),
      cell(window.latency.total, 'p99', totalUnit),
    ]);
  }
  return [`latency over time (${formatWindow(windows.sizeMs)} windows by t_avail, from ${formatTime(windows.origin)})`, table(rows)];
}

/** Names shown per kind of problem in the summary; `--list` shows them all. */
const namesShown = 10;

/** The chunks behind a failing verdict, by name, so that the summary alone says what to look for. */
function problemBlock(report: Report): string[] {
  const { lists } = report;
  const kinds: [string, string[]][] = [
    ['missing', lists.missing],
    ['corrupted', lists.corrupted],
    ['invalid (content error)', lists.invalid.map((entry) => (entry.error ? `${entry.name} (${entry.error})` : entry.name))],
    ['failed uploads', lists.failedUploads.map((entry) => (entry.error ? `${entry.name} (${entry.error})` : entry.name))],
  ];
  const lines: string[] = [];
  for (const [label, names] of kinds) {
    if (names.length === 0) continue;
    lines.push(`${label}:`);
    lines.push(...names.slice(0, namesShown).map((name) => `  ${name}`));
    if (names.length > namesShown) lines.push(`  ... and ${formatCount(names.length - namesShown)} more (--list shows them all)`);
  }
  const seqs = lists.unaccountedSeqs;
  // In a run stopped early these were never produced: the integrity block counts them, no more.
  if (seqs.length > 0 && report.completion.state === 'complete') {
    lines.push(`in no log (${plural(seqs.length, 'scheduled chunk')}):`, `  seq ${formatSeqRanges(seqs)}`);
  }
  return lines;
}

/** `report --compare`: this run and the other side by side, with the change from the other to this one. */
export function renderComparison(report: Report, other: Report): string {
  const rows = comparisonRows(report, other).map((row) => [`  ${terminalValue(row.label)}`, terminalValue(row.self), terminalValue(row.other), row.change]);
  const table = tableLines([['  ', 'this run', 'other run', 'change'], ...rows]);
  return [`compared with run ${terminalValue(other.run.id)}`, ...table].join('\n');
}

function tableLines(rows: string[][]): string[] {
  return table(rows)
    .split('\n')
    .map((line) => line.trimEnd());
}

/** The compact summary for people: integrity block, latency table, windows, and the verdict line. */
export function renderText(report: Report, options: RenderTextOptions = {}): string {
  const blocks = [headerBlock(report), integrityBlock(report), problemBlock(report), latencyBlock(report), objectivesBlock(report)];
  if (options.windows ?? true) blocks.push(windowBlock(report));
  if (options.compare) blocks.push(renderComparison(report, options.compare).split('\n'));
  blocks.push([verdictLine(report)]);
  return blocks
    .filter((block) => block.length > 0)
    .map((block) => block.join('\n'))
    .join('\n\n');
}

/**
 * The lines to show on stderr as warnings: malformed log lines (file:line: why, the first `max`)
 * and the report's warnings (missing logs, clock disagreement...).
 */
export function reportNotes(report: Report, max = 20): string[] {
  const notes = report.malformed.slice(0, max).map((line) => `${line.file}:${line.line}: ${line.reason}`);
  if (report.malformedCount > max) {
    notes.push(`... ${formatCount(report.malformedCount - max)} more malformed lines (--json lists the first ${formatCount(report.malformed.length)})`);
  }
  return [...notes, ...report.warnings];
}

/**
 * "PASS: all 14,400 chunks uploaded...", "FAIL: 2 chunks missing, 1 corrupted", "INTERRUPTED after
 * 2,000 of 14,400 scheduled chunks: ..." (a summary that starts with the verdict's word is not
 * prefixed twice).
 */
export function verdictLine(report: Report): string {
  const { state, summary } = report.verdict;
  const label = verdictLabel(state);
  return summary.startsWith(`${state} `) ? `${label}${summary.slice(state.length)}` : `${label}: ${summary}`;
}

function listingLine(entry: ChunkListingEntry): string {
  // Names come from logs: a line break in one must not make a line of its own.
  return `${entry.status} ${terminalValue(entry.name)}${entry.detail ? `  (${terminalValue(entry.detail)})` : ''}`;
}

/**
 * rclone-`check --combined`-like listing: `=` verified, `-` missing, `*` corrupted, `!` failed
 * upload, `+` downloaded but not in the upload log, `~` in flight when a run stopped early.
 * `all: false` leaves out the `=` and `~` lines (neither is a problem).
 */
export function renderListing(report: Report, options: { all: boolean }): string {
  const entries = options.all ? report.listing : report.listing.filter(isProblem);
  const lines = entries.map(listingLine);
  if (report.lists.unaccountedSeqs.length === 0) return lines.join('\n');
  const seqs = report.lists.unaccountedSeqs;
  const what = report.completion.state === 'complete' ? '- seq' : '  seq';
  const why = report.completion.state === 'complete' ? 'scheduled, in no log' : 'not produced: the run stopped before them';
  lines.push(`${what} ${formatSeqRanges(seqs, 20)}  (${plural(seqs.length, 'chunk')} ${why})`);
  return lines.join('\n');
}
