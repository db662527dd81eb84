import { IntegrityError } from '../common/errors.js';
import { formatCount, formatLatency, formatMeanSpread, plural, unitFor } from './format.js';
import type { Integrity, LatencyTable, Report, Verdict } from './report-types.js';

/**
 * Clean means every scheduled chunk was either deliberately skipped or uploaded and verified, and
 * nothing is left corrupted. Duplicates, late chunks and recovered corruptions are reported but do
 * not fail a rehearsal: the data arrived intact.
 */
export function verdictOf(integrity: Integrity, latency: LatencyTable, chunksSeen: number): Verdict {
  const problems: [number, string][] = [
    [integrity.missing, 'missing'],
    [integrity.corrupted, 'corrupted'],
    [integrity.failedUploads, 'failed to upload'],
    [integrity.unaccounted, 'scheduled but in no log'],
  ];
  const parts = problems
    .filter(([count]) => count > 0)
    .map(([count, what], index) => (index === 0 ? `${plural(count, 'chunk')} ${what}` : `${formatCount(count)} ${what}`));
  if (chunksSeen === 0 && integrity.scheduledSource === 'highest-seq') parts.push('no chunk events in the logs');
  if (parts.length > 0) return { ok: false, summary: parts.join(', '), exitCode: 3 };
  return { ok: true, summary: cleanSentence(integrity, latency), exitCode: 0 };
}

/** "all 14,400 chunks uploaded, all downloaded, none corrupted; upload latency mean 1.9 s -0.5 +0.3 s, total median 8.2 s". */
function cleanSentence(integrity: Integrity, latency: LatencyTable): string {
  const skipped = Object.entries(integrity.skippedByReason)
    .map(([reason, count]) => `${reason} ${formatCount(count)}`)
    .join(', ');
  const uploaded =
    integrity.uploaded === integrity.scheduled
      ? `all ${plural(integrity.scheduled, 'chunk')} uploaded`
      : `${formatCount(integrity.uploaded)} of ${plural(integrity.scheduled, 'chunk')} uploaded` +
        (integrity.skipped > 0 ? ` (${formatCount(integrity.skipped)} skipped: ${skipped})` : '');
  const corrupted = integrity.recovered > 0 ? `none corrupted (${formatCount(integrity.recovered)} recovered)` : 'none corrupted';
  const numbers: string[] = [];
  if (latency.upload) numbers.push(`upload latency mean ${formatMeanSpread(latency.upload)}`);
  if (latency.total) numbers.push(`total median ${formatLatency(latency.total.median, unitFor(latency.total))}`);
  return `${uploaded}, all downloaded, ${corrupted}${numbers.length > 0 ? `; ${numbers.join(', ')}` : ''}`;
}

/** 0 when the rehearsal is clean, 3 (integrity) when anything is missing, corrupted or failed. */
export function reportExitCode(report: Report): 0 | 3 {
  return report.verdict.exitCode;
}

/** The error the CLI throws after printing a failing report, so that it exits 3 with one line. */
export function integrityErrorFor(report: Report): IntegrityError | undefined {
  if (report.verdict.ok) return undefined;
  return new IntegrityError(`rehearsal run ${report.run.id} failed its integrity check: ${report.verdict.summary} (see the listing with --list)`);
}
