import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeFailure, errorMessage } from '../common/errors.js';
import { formatCount, formatWindow, formatIn, formatLatency, formatSpread, formatThreshold, formatTime, unitFor, type LatencyUnit } from './format.js';
import type { RenderedPlot } from './plots.js';
import { verdictLine } from './render-text.js';
import { comparisonRows } from './compare.js';
import { headerFields, plotCaption } from './report-header.js';
import { objectiveSubject, objectiveUnit, valueUnit } from './slo.js';
import { latencyLabels, latencyMetrics, type LatencyStats, type Report } from './report-types.js';

export const htmlFileName = 'report.html';

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => escapes[char] ?? char);
}

/** A table whose columns from `numericFrom` up to (not including) `numericTo` are right-aligned numbers. */
function tableHtml(header: readonly string[], rows: readonly (readonly string[])[], numericFrom = 1, numericTo = Number.POSITIVE_INFINITY): string {
  const cls = (index: number): string => (index >= numericFrom && index < numericTo ? ' class="n"' : '');
  const head = header.map((cell, index) => `<th${cls(index)}>${escapeHtml(cell)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((cell, index) => `<td${cls(index)}>${escapeHtml(cell)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function integrityHtml(report: Report): string {
  const i = report.integrity;
  const skipped = Object.entries(i.skippedByReason)
    .map(([reason, count]) => `${reason} ${formatCount(count)}`)
    .join(', ');
  const rows: [string, number, string][] = [
    ['scheduled', i.scheduled, i.scheduledSource === 'run_started' ? 'from run_started' : 'highest seq + 1'],
    ['uploaded', i.uploaded, ''],
    ['failed uploads', i.failedUploads, ''],
    ['skipped', i.skipped, skipped],
    ['late', i.late, ''],
    ['downloaded', i.downloaded, ''],
    ['verified', i.verified, i.recovered > 0 ? `${formatCount(i.recovered)} recovered` : ''],
    ['corrupted', i.corrupted, 'never read intact'],
    ['corrupted reads', i.corruptedReads, `of ${formatCount(i.chunksWithCorruptedRead)} chunks`],
    ['invalid', i.invalid, 'content error: bytes match the catalog, not a valid chunk'],
    ['missing', i.missing, i.downloadFailures > 0 ? `${formatCount(i.downloadFailures)} download failures` : ''],
    ['in flight', i.inFlight, 'uploaded, not yet downloaded when the run stopped'],
    ['duplicate uploads', i.duplicateUploads, ''],
    ['duplicate verifications', i.duplicateVerifications, ''],
    ['not in upload log', i.notInUploadLog, ''],
    ['foreign files', i.foreign, 'not wavefier chunks; verified against the catalog'],
    [report.completion.state === 'complete' ? 'in no log' : 'not produced', i.unaccounted, report.completion.state === 'complete' ? '' : 'the run stopped before them'],
  ];
  return tableHtml(['', 'chunks', 'note'], rows.map(([label, count, note]) => [label, formatCount(count), note]), 1, 2);
}

function problemsHtml(report: Report): string {
  const { lists } = report;
  const kinds: [string, string[]][] = [
    ['Missing', lists.missing],
    ['Corrupted', lists.corrupted],
    ['Invalid (content error)', lists.invalid.map((entry) => (entry.error ? `${entry.name} (${entry.error})` : entry.name))],
    ['Failed uploads', lists.failedUploads.map((entry) => (entry.error ? `${entry.name} (${entry.error})` : entry.name))],
    ['Scheduled but in no log (seq)', report.completion.state === 'complete' ? lists.unaccountedSeqs.map(String) : []],
  ];
  const shown = 50;
  const parts = kinds
    .filter(([, names]) => names.length > 0)
    .map(([label, names]) => {
      const more = names.length > shown ? `<li>... and ${formatCount(names.length - shown)} more</li>` : '';
      return `<h3>${escapeHtml(label)} (${formatCount(names.length)})</h3><ul>${names
        .slice(0, shown)
        .map((name) => `<li><code>${escapeHtml(name)}</code></li>`)
        .join('')}${more}</ul>`;
    });
  return parts.length > 0 ? `<h2>Problems</h2>${parts.join('\n')}` : '';
}

function statsRow(label: string, stats: LatencyStats | null): string[] {
  if (!stats) return [label, '0', '-', '-', '-', '-', '-'];
  const unit = unitFor(stats);
  const at = (ms: number): string => `${formatIn(ms, unit)} ${unit}`;
  return [label, formatCount(stats.count), formatSpread(stats, unit), at(stats.mean), at(stats.p90), at(stats.p99), at(stats.max)];
}

function windowsHtml(report: Report): string {
  const { windows, latency } = report;
  if (windows.items.length < 2) return '';
  const uploadUnit: LatencyUnit = latency.upload ? unitFor(latency.upload) : 'ms';
  const totalUnit: LatencyUnit = latency.total ? unitFor(latency.total) : 'ms';
  const at = (stats: LatencyStats | null, pick: 'median' | 'p99', unit: LatencyUnit): string => (stats ? `${formatIn(stats[pick], unit)} ${unit}` : '-');
  const rows = windows.items.map((window) => [
    window.label,
    formatCount(window.chunks),
    at(window.latency.upload, 'median', uploadUnit),
    at(window.latency.upload, 'p99', uploadUnit),
    at(window.latency.total, 'median', totalUnit),
    at(window.latency.total, 'p99', totalUnit),
  ]);
  return (
    `<h2>Latency over time</h2><p>${escapeHtml(formatWindow(windows.sizeMs))} windows by t_avail, from ${escapeHtml(formatTime(windows.origin))}.</p>` +
    tableHtml([`window (${windows.labelPattern})`, 'chunks', 'upload median', 'upload p99', 'total median', 'total p99'], rows)
  );
}

/** The run's settings as a two-column table, the first thing on the page. */
function headerHtml(report: Report): string {
  const rows = headerFields(report)
    .map((field) => `<tr><th scope="row">${escapeHtml(field.label)}</th><td>${escapeHtml(field.value)}</td></tr>`)
    .join('\n');
  return `<table class="settings"><tbody>\n${rows}\n</tbody></table>`;
}

function objectivesHtml(report: Report): string {
  if (report.objectives.length === 0) return '';
  const rows = report.objectives.map((result) => {
    const unit = objectiveUnit(result.objective);
    return [
      `${objectiveSubject(result.objective)} ${result.objective.comparison} ${formatThreshold(result.objective.thresholdMs, unit)}`,
      result.actualMs === null ? 'no value' : formatLatency(result.actualMs, valueUnit(result.actualMs)),
      result.met ? 'met' : 'MISSED',
    ];
  });
  const body = rows
    .map((row) => `<tr class="${row[2] === 'met' ? 'met' : 'missed'}"><td>${escapeHtml(row[0] ?? '')}</td><td class="n">${escapeHtml(row[1] ?? '')}</td><td>${escapeHtml(row[2] ?? '')}</td></tr>`)
    .join('\n');
  return `<h2>Latency objectives</h2><table><thead><tr><th>objective</th><th class="n">actual</th><th></th></tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** `report --compare`: the two runs side by side. */
function compareHtml(report: Report, other: Report | undefined): string {
  if (!other) return '';
  const rows = comparisonRows(report, other).map((row) => [row.label, row.self, row.other, row.change]);
  return `<h2>Compared with run ${escapeHtml(other.run.id)}</h2>${tableHtml(['', 'this run', 'other run', 'change'], rows)}`;
}

function plotHtml(plot: RenderedPlot): string {
  const alt = escapeHtml(plot.title);
  // PNG keeps the page light and pastes into slides as an image; the SVG is the fallback.
  if (plot.png) return `<figure><img alt="${alt}" src="data:image/png;base64,${plot.png.toString('base64')}"></figure>`;
  return `<figure aria-label="${alt}">${plot.svg.replace(/^<\?xml[^>]*>/, '')}</figure>`;
}

/** The report as one self-contained HTML page: numbers and plots inline, no external assets. */
export function renderHtml(report: Report, plots: readonly RenderedPlot[] = [], compare?: Report): string {
  const { run, verdict } = report;
  const title = `wavefier report: run ${run.id}`;
  const latencyRows = latencyMetrics.map((metric) => statsRow(latencyLabels[metric], report.latency[metric]));
  const notes = [
    ...report.warnings,
    ...report.malformed.slice(0, 50).map((line) => `${line.file}:${line.line}: ${line.reason}`),
    ...(report.malformedCount > 50 ? [`... and ${formatCount(report.malformedCount - 50)} more malformed lines`] : []),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:"DejaVu Sans",Verdana,sans-serif;margin:2rem auto;max-width:60rem;color:#222;line-height:1.4}
h1{font-size:1.4rem;margin-bottom:.2rem}h2{font-size:1.1rem;margin-top:2rem}h3{font-size:1rem;margin:.8rem 0 .2rem}
.verdict{font-size:1.15rem;padding:.6rem .9rem;border-radius:4px;margin:1rem 0}
.ok{background:#e3f4e1;border-left:6px solid #3a9b3a}.fail{background:#fbe3e1;border-left:6px solid #c8362b}
.stopped{background:#fdf3dc;border-left:6px solid #c98a00}
table{border-collapse:collapse;margin:.5rem 0}th,td{padding:.2rem .7rem;border-bottom:1px solid #ddd;text-align:left}
.n{text-align:right;font-variant-numeric:tabular-nums}figure{margin:1rem 0}img{max-width:100%}
.muted{color:#666;font-size:.9rem}ul.notes{font-size:.9rem;color:#7a4a00}
table.settings th{font-weight:normal;color:#666;padding-left:0}table.settings td{border-bottom:1px solid #eee}
tr.missed td{color:#c8362b;font-weight:bold}tr.met td:last-child{color:#3a9b3a}
.runline{display:none}
@media print{body{margin:1cm}.runline{display:block;position:fixed;bottom:0;left:0;right:0;font-size:8pt;color:#666;border-top:1px solid #ccc;background:#fff}figure{break-inside:avoid}}
</style></head><body>
<div class="runline">${escapeHtml(plotCaption(report).join(' · '))}</div>
<h1>${escapeHtml(title)}</h1>
${headerHtml(report)}
<div class="verdict ${verdict.state === 'pass' ? 'ok' : verdict.state === 'fail' ? 'fail' : 'stopped'}">${escapeHtml(verdictLine(report))}</div>
<h2>Integrity</h2>
${integrityHtml(report)}
${problemsHtml(report)}
<h2>Latency</h2>
<p class="muted">Median -a +b: a = median &minus; p16, b = p84 &minus; median (the central 68 % of chunks; exact, from every chunk).
Upload = t_uploaded &minus; t_avail; total = t_verified &minus; t_avail; detection = t_detected &minus; t_uploaded; pacing error = t_enqueued &minus; t_avail.</p>
${tableHtml(['metric', 'count', 'median -p16 +p84', 'mean', 'p90', 'p99', 'max'], latencyRows)}
${objectivesHtml(report)}
${compareHtml(report, compare)}
${plots.map(plotHtml).join('\n')}
${windowsHtml(report)}
${notes.length > 0 ? `<h2>Notes</h2><ul class="notes">${notes.map((note) => `<li>${escapeHtml(note)}</li>`).join('')}</ul>` : ''}
<p class="muted">Generated by wavefier report from ${formatCount(report.files.length)} log files.</p>
</body></html>
`;
}

/** Writes `report.html` into `dir` and returns its path. */
export async function writeHtml(report: Report, dir: string, plots: readonly RenderedPlot[] = [], compare?: Report): Promise<string> {
  const path = join(dir, htmlFileName);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(path, renderHtml(report, plots, compare));
  } catch (error) {
    throw new RuntimeFailure(`cannot write ${path}: ${errorMessage(error)}; choose another directory with --plots DIR or skip with --no-plots`, { cause: error });
  }
  return path;
}
