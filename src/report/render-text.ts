import { formatDuration } from '../common/duration.js';
import { table } from '../common/output.js';
import { formatCount, formatWindow, formatIn, formatMeanSpread, formatOffset, formatTime, plural, unitFor, type LatencyUnit } from './format.js';
import { latencyLabels, latencyMetrics, type ChunkListingEntry, type LatencyStats, type Report } from './report-types.js';

export interface RenderTextOptions {
  /** Include the per-window table (default true). */
  windows?: boolean;
}

function rightAlign(cells: string[]): string[] {
  const width = Math.max(...cells.map((cell) => cell.length));
  return cells.map((cell) => cell.padStart(width));
}

function headerBlock(report: Report): string[] {
  const { run, files } = report;
  const where = [run.scope && `scope ${run.scope}`, run.dataset && `dataset ${run.dataset}`].filter(Boolean).join(', ');
  const lines = [`run ${run.id}${where ? ` (${where})` : ''}`];
  const uploads = files.filter((file) => file.side === 'upload').length;
  const downloads = files.length - uploads;
  const totalLines = files.reduce((sum, file) => sum + file.lines, 0);
  const span =
    run.firstAvail !== undefined && run.lastAvail !== undefined
      ? `t_avail ${formatTime(run.firstAvail)} to ${formatTime(run.lastAvail)} (${formatDuration(run.lastAvail - run.firstAvail)}); `
      : '';
  lines.push(
    `  ${span}${plural(uploads, 'upload log')}, ${plural(downloads, 'download log')}, ${plural(totalLines, 'line')}` +
      (report.malformedCount > 0 ? `, ${formatCount(report.malformedCount)} malformed` : ''),
  );
  return lines;
}

function integrityBlock(report: Report): string[] {
  const i = report.integrity;
  const skipped = Object.entries(i.skippedByReason)
    .map(([reason, count]) => `${reason} ${formatCount(count)}`)
    .join(', ');
  const rows: [string, number, string][] = [
    ['scheduled', i.scheduled, i.scheduledSource === 'run_started' ? 'from run_started' : 'highest seq + 1 (no run_started.scheduled)'],
    ['uploaded', i.uploaded, ''],
    ['failed uploads', i.failedUploads, ''],
    ['skipped', i.skipped, skipped],
    ['late', i.late, i.late > 0 ? 'emitted after their due time' : ''],
    ['downloaded', i.downloaded, ''],
    ['verified', i.verified, i.recovered > 0 ? `${formatCount(i.recovered)} recovered after a corrupted download` : ''],
    ['corrupted', i.corrupted, `${plural(i.corruptedDetections, 'detection')}, ${formatCount(i.recovered)} recovered`],
    ['missing', i.missing, i.downloadFailures > 0 ? plural(i.downloadFailures, 'download failure') : 'uploaded, never verified'],
    ['duplicates', i.duplicateUploads + i.duplicateVerifications, `${formatCount(i.duplicateUploads)} uploaded twice or more, ${formatCount(i.duplicateVerifications)} verified twice or more`],
    ['not in upload log', i.notInUploadLog, ''],
    ['in no log', i.unaccounted, 'scheduled seq never logged'],
  ];
  const counts = rightAlign(rows.map(([, count]) => formatCount(count)));
  const body = table(rows.map(([label, , note], index) => [`  ${label}`, counts[index] ?? '', note]));
  return ['integrity', ...body.split('\n').map((line) => line.trimEnd())];
}

function statsCells(stats: LatencyStats | null, unit: LatencyUnit): string[] {
  if (!stats) return ['0', '-', '-', '-', '-', '-'];
  return [
    formatCount(stats.count),
    formatMeanSpread(stats, unit),
    `${formatIn(stats.median, unit)} ${unit}`,
    `${formatIn(stats.p90, unit)} ${unit}`,
    `${formatIn(stats.p99, unit)} ${unit}`,
    `${formatIn(stats.max, unit)} ${unit}`,
  ];
}

function latencyBlock(report: Report): string[] {
  const rows = [['  metric', 'count', 'mean -p16 +p84', 'median', 'p90', 'p99', 'max']];
  for (const metric of latencyMetrics) {
    const stats = report.latency[metric];
    rows.push([`  ${latencyLabels[metric]}`, ...statsCells(stats, stats ? unitFor(stats) : 'ms')]);
  }
  return ['latency (spread: distance from the mean to the 16th and 84th percentiles; exact percentiles)', table(rows)];
}

function windowBlock(report: Report): string[] {
  const { windows, latency } = report;
  if (windows.items.length < 2) return [];
  const uploadUnit = latency.upload ? unitFor(latency.upload) : 'ms';
  const totalUnit = latency.total ? unitFor(latency.total) : 'ms';
  const cell = (stats: LatencyStats | null, pick: 'median' | 'p99', unit: LatencyUnit): string => (stats ? `${formatIn(stats[pick], unit)} ${unit}` : '-');
  const rows = [['  window', 'chunks', 'upload median', 'upload p99', 'total median', 'total p99']];
  const origin = windows.origin ?? 0;
  for (const window of windows.items) {
    rows.push([
      `  ${formatOffset(window.start - origin)}`,
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
    ['failed uploads', lists.failedUploads.map((entry) => (entry.error ? `${entry.name} (${entry.error})` : entry.name))],
    ['in no log (seq)', lists.unaccountedSeqs.map(String)],
  ];
  const lines: string[] = [];
  for (const [label, names] of kinds) {
    if (names.length === 0) continue;
    lines.push(`${label}:`);
    lines.push(...names.slice(0, namesShown).map((name) => `  ${name}`));
    if (names.length > namesShown) lines.push(`  ... and ${formatCount(names.length - namesShown)} more (--list shows them all)`);
  }
  return lines;
}

/** The compact summary for people: integrity block, latency table, windows, and the verdict line. */
export function renderText(report: Report, options: RenderTextOptions = {}): string {
  const blocks = [headerBlock(report), integrityBlock(report), problemBlock(report), latencyBlock(report)];
  if (options.windows ?? true) blocks.push(windowBlock(report));
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

/** "OK: all 14,400 chunks uploaded..." or "FAIL: 2 chunks missing, 1 corrupted". */
export function verdictLine(report: Report): string {
  return `${report.verdict.ok ? 'OK' : 'FAIL'}: ${report.verdict.summary}`;
}

function listingLine(entry: ChunkListingEntry): string {
  return `${entry.status} ${entry.name}${entry.detail ? `  (${entry.detail})` : ''}`;
}

/**
 * rclone-`check --combined`-like listing: `=` verified, `-` missing, `*` corrupted, `!` failed
 * upload, `+` downloaded but not in the upload log. `all: false` leaves out the `=` lines.
 */
export function renderListing(report: Report, options: { all: boolean }): string {
  const entries = options.all ? report.listing : report.listing.filter((entry) => entry.status !== '=');
  const lines = entries.map(listingLine);
  if (report.lists.unaccountedSeqs.length === 0) return lines.join('\n');
  const seqs = report.lists.unaccountedSeqs;
  const shown = seqs.slice(0, 20).join(', ');
  lines.push(`- seq ${shown}${seqs.length > 20 ? `, ... (${formatCount(seqs.length)} in all)` : ''}  (scheduled, in no log)`);
  return lines.join('\n');
}
