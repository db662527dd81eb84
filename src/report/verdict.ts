import { ExitCode, IntegrityError, WavefierError } from '../common/errors.js';
import { formatCount, formatLatency, formatSpread, plural, unitFor } from './format.js';
import type { Completion, Integrity, LatencyTable, Report, Verdict, VerdictState } from './report-types.js';

/**
 * Exit status of a run that stopped early (interrupted, or its logs end without run_finished) with
 * every chunk it produced intact: not a pass (the rehearsal did not run to the end), not an
 * integrity failure (nothing produced was lost).
 */
export const incompleteExitCode = ExitCode.incomplete;

/** A run that stopped early with every chunk it produced intact. Exit 4. */
export class IncompleteRunError extends WavefierError {
  constructor(message: string) {
    super(message, { code: 'incomplete', exitCode: ExitCode.incomplete, retryable: false });
  }
}

/**
 * Clean means every scheduled chunk was either deliberately skipped or uploaded and verified, and
 * nothing is left corrupted. Duplicates, late chunks and recovered corruptions are reported but do
 * not fail a rehearsal: the data arrived intact. A run that stopped early is judged on the chunks
 * it produced: those never produced, and those still in flight at the stop, are not losses.
 */
export function verdictOf(integrity: Integrity, latency: LatencyTable, chunksSeen: number, completion: Completion): Verdict {
  const { state } = completion;
  const complete = state === 'complete';
  const problems: [number, string][] = [
    [integrity.missing, 'missing'],
    [integrity.corrupted, 'corrupted'],
    [integrity.failedUploads, 'failed to upload'],
    [complete ? integrity.unaccounted : 0, 'scheduled but in no log'],
  ];
  const parts = problems
    .filter(([count]) => count > 0)
    .map(([count, what], index) => (index === 0 ? `${plural(count, 'chunk')} ${what}` : `${formatCount(count)} ${what}`));
  if (chunksSeen === 0 && integrity.scheduledSource === 'highest-seq') parts.push('no chunk events in the logs');
  if (complete) {
    // The scale, so that "1 chunk missing" at the end of a 4-hour run reads as 1 in 14,400.
    const scale = chunksSeen > 0 ? ` (${formatCount(integrity.verified)} of ${plural(integrity.scheduled, 'scheduled chunk')} verified)` : '';
    if (parts.length > 0) return { ok: false, state: 'fail', summary: `${parts.join(', ')}${scale}`, exitCode: 3 };
    return { ok: true, state: 'pass', summary: cleanSentence(integrity, latency), exitCode: 0 };
  }
  const stopped = stoppedSentence(integrity, completion);
  if (parts.length > 0) return { ok: false, state: 'fail', summary: `${parts.join(', ')}; ${stopped}`, exitCode: 3 };
  return { ok: false, state, summary: stopped, exitCode: incompleteExitCode };
}

/**
 * "interrupted after 2,000 of 14,400 scheduled chunks: of those, 1,996 verified, 0 lost, 0 corrupted,
 * 4 in flight at the stop". Produced = appears in a log; lost = missing or failed to upload.
 */
function stoppedSentence(integrity: Integrity, completion: Completion): string {
  const produced = integrity.scheduled - integrity.unaccounted;
  const how = completion.state === 'interrupted' ? 'interrupted' : `unfinished (${unfinishedSides(completion)} without run_finished: still running, or killed)`;
  const of = integrity.scheduledSource === 'run_started' ? `${formatCount(produced)} of ${plural(integrity.scheduled, 'scheduled chunk')}` : plural(produced, 'chunk');
  const tally = [
    `${formatCount(integrity.verified)} verified`,
    `${formatCount(integrity.missing + integrity.failedUploads)} lost`,
    `${formatCount(integrity.corrupted)} corrupted`,
    ...(integrity.inFlight > 0 ? [`${formatCount(integrity.inFlight)} in flight at the stop`] : []),
    ...(integrity.skipped > 0 ? [`${formatCount(integrity.skipped)} skipped`] : []),
  ];
  if (produced === 0) return `${how} before any chunk was produced (0 of ${plural(integrity.scheduled, 'scheduled chunk')})`;
  return `${how} after ${of}: of those, ${tally.join(', ')}`;
}

function unfinishedSides(completion: Completion): string {
  const sides = (['upload', 'download'] as const).filter((side) => completion[side] === 'unfinished');
  return `${sides.join(' and ')} log${sides.length > 1 ? 's end' : ' ends'}`;
}

/** "all 14,400 chunks uploaded, all downloaded, none corrupted; upload latency median 1.85 -0.45 +0.35 s (mean 1.90 s), total median 8.2 s". */
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
  if (latency.upload) numbers.push(`upload latency median ${formatSpread(latency.upload)} (mean ${formatLatency(latency.upload.mean, unitFor(latency.upload))})`);
  if (latency.total) numbers.push(`total median ${formatLatency(latency.total.median, unitFor(latency.total))}`);
  return `${uploaded}, all downloaded, ${corrupted}${numbers.length > 0 ? `; ${numbers.join(', ')}` : ''}`;
}

/** The word in front of the summary: PASS, FAIL, INTERRUPTED, UNFINISHED. */
export function verdictLabel(state: VerdictState): string {
  return state.toUpperCase();
}

/** 0 when the rehearsal is clean, 3 (integrity) when anything produced is missing, corrupted or failed, 4 when it stopped early intact. */
export function reportExitCode(report: Report): 0 | 3 | 4 {
  return report.verdict.exitCode;
}

/**
 * The error the CLI throws after printing a report that is not a pass, so that it exits with the
 * verdict's status (3 or 4) and one line; undefined for a pass.
 */
export function verdictErrorFor(report: Report): WavefierError | undefined {
  const { verdict, run } = report;
  switch (verdict.state) {
    case 'pass':
      return undefined;
    case 'fail':
      return new IntegrityError(`rehearsal run ${run.id} failed its integrity check: ${verdict.summary} (see the listing with --list)`);
    case 'interrupted':
    case 'unfinished':
      return new IncompleteRunError(
        `rehearsal run ${run.id} is incomplete (exit ${incompleteExitCode}: stopped early, nothing it produced was lost): ${verdict.summary}; rerun it to the end for a pass`,
      );
  }
}
