import { ExitCode, IntegrityError, WavefierError } from '../common/errors.js';
import { formatCount, formatLatency, formatSpread, plural, unitFor } from './format.js';
import { objectiveOutcome } from './slo.js';
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

/** Exit status of a report that cannot judge the run: a side's logs are missing, or nothing was uploaded. */
export const noVerdictExitCode = ExitCode.noVerdict;

/** No verdict: the logs cannot say whether every chunk arrived. Exit 5. */
export class NoVerdictError extends WavefierError {
  constructor(message: string) {
    super(message, { code: 'no-verdict', exitCode: ExitCode.noVerdict, retryable: false });
  }
}

/** Which sides of the rehearsal the report has logs of. */
export interface LogSides {
  /** An upload log of the run reported. */
  upload: boolean;
  /** A download log that may hold its chunks. */
  download: boolean;
  run: string;
}

/**
 * Clean means every scheduled chunk was either deliberately skipped or uploaded and verified, and
 * nothing is left corrupted or invalid. Duplicates, late chunks, recovered corruptions and foreign
 * files are reported but do not fail a rehearsal: the data arrived intact. A run that stopped early
 * is judged on the chunks it produced: those never produced, and those still in flight at the stop,
 * are not losses. Without both sides' logs, or with nothing uploaded, there is no verdict.
 */
export function verdictOf(integrity: Integrity, latency: LatencyTable, chunksSeen: number, completion: Completion, sides: LogSides): Verdict {
  const missingSide = missingSideSentence(integrity, sides);
  if (missingSide !== undefined) return { ok: false, state: 'no-verdict', summary: missingSide, exitCode: noVerdictExitCode };
  const { state } = completion;
  const complete = state === 'complete';
  const problems: [number, string][] = [
    [integrity.missing, 'missing'],
    [integrity.corrupted, 'corrupted'],
    [integrity.invalid, 'invalid (content error)'],
    [integrity.failedUploads, 'failed to upload'],
    [complete ? integrity.unaccounted : 0, 'scheduled but in no log'],
  ];
  const parts = problems
    .filter(([count]) => count > 0)
    .map(([count, what], index) => (index === 0 ? `${plural(count, 'chunk')} ${what}` : `${formatCount(count)} ${what}`));
  if (complete) {
    // The scale, so that "1 chunk missing" at the end of a 4-hour run reads as 1 in 14,400.
    const scale = chunksSeen > 0 ? ` (${formatCount(integrity.verified)} of ${plural(integrity.scheduled, 'scheduled chunk')} verified)` : '';
    if (parts.length > 0) return { ok: false, state: 'fail', summary: `${parts.join(', ')}${scale}`, exitCode: 3 };
    if (integrity.uploaded === 0) return { ok: false, state: 'no-verdict', summary: nothingUploadedSentence(integrity), exitCode: noVerdictExitCode };
    return { ok: true, state: 'pass', summary: cleanSentence(integrity, latency), exitCode: 0 };
  }
  const stopped = stoppedSentence(integrity, completion);
  if (parts.length > 0) return { ok: false, state: 'fail', summary: `${parts.join(', ')}; ${stopped}`, exitCode: 3 };
  return { ok: false, state, summary: stopped, exitCode: incompleteExitCode };
}

/** Why the logs cannot judge the run when a side is missing; undefined when both are there. */
function missingSideSentence(integrity: Integrity, sides: LogSides): string | undefined {
  if (!sides.upload) {
    const seen =
      `the download logs alone show ${formatCount(integrity.verified)} verified, ${formatCount(integrity.corrupted)} corrupted, ` +
      `${formatCount(integrity.invalid)} invalid, ${formatCount(integrity.downloadFailures)} failed`;
    return `no upload log of run ${sides.run}: without it nobody can say which chunks should have arrived (${seen}); pass the upload side's --log-dir too`;
  }
  if (!sides.download) {
    return (
      `no download log of run ${sides.run}'s dataset: without it nobody can say whether the ${plural(integrity.uploaded, 'uploaded chunk')} arrived; ` +
      "pass the download side's --log-dir too"
    );
  }
  return undefined;
}

/** "nothing was uploaded: 3 scheduled chunks, 3 skipped (gap 3)". */
function nothingUploadedSentence(integrity: Integrity): string {
  const skipped = Object.entries(integrity.skippedByReason)
    .map(([reason, count]) => `${reason} ${formatCount(count)}`)
    .join(', ');
  const why = integrity.skipped > 0 ? `, ${formatCount(integrity.skipped)} skipped (${skipped})` : ', no chunk events in the logs';
  return `nothing was uploaded: ${plural(integrity.scheduled, 'scheduled chunk')}${why}; a rehearsal without chunks proves nothing`;
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
    ...(integrity.invalid > 0 ? [`${formatCount(integrity.invalid)} invalid`] : []),
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

/** The word in front of the summary: PASS, FAIL, INTERRUPTED, UNFINISHED, NO VERDICT. */
export function verdictLabel(state: VerdictState): string {
  return state.replace('-', ' ').toUpperCase();
}

/**
 * 0 when the rehearsal is clean, 3 (integrity) when anything produced is missing, corrupted or
 * failed, 4 when it stopped early intact, 5 without a verdict, 6 when intact but a latency objective
 * was missed.
 */
export function reportExitCode(report: Report): 0 | 3 | 4 | 5 | 6 {
  return report.verdict.exitCode;
}

/** Every chunk intact, but a latency objective (--slo) missed. Exit 6. */
export class LatencyObjectiveError extends WavefierError {
  constructor(message: string) {
    super(message, { code: 'latency-objective', exitCode: ExitCode.latency, retryable: false });
  }
}

/**
 * The error the CLI throws after printing a report that is not a pass, so that it exits with the
 * verdict's status (3, 4, 5 or 6) and one line; undefined for a pass.
 */
export function verdictErrorFor(report: Report): WavefierError | undefined {
  const { verdict, run } = report;
  switch (verdict.state) {
    case 'pass':
      return undefined;
    case 'fail':
      if (verdict.exitCode === ExitCode.latency) {
        const missed = report.objectives.filter((result) => !result.met).length;
        return new LatencyObjectiveError(
          `rehearsal run ${run.id} missed ${missed === 1 ? 'a latency objective' : `${missed} latency objectives`} (exit ${ExitCode.latency}; every chunk intact): ` +
            report.objectives.filter((result) => !result.met).map(objectiveOutcome).join(', '),
        );
      }
      return new IntegrityError(`rehearsal run ${run.id} failed its integrity check: ${verdict.summary} (see the listing with --list)`);
    case 'no-verdict':
      return new NoVerdictError(`rehearsal run ${run.id} has no verdict (exit ${noVerdictExitCode}): ${verdict.summary}`);
    case 'interrupted':
    case 'unfinished':
      return new IncompleteRunError(
        `rehearsal run ${run.id} is incomplete (exit ${incompleteExitCode}: stopped early, nothing it produced was lost): ${verdict.summary}; rerun it to the end for a pass`,
      );
  }
}
