import { isProblem, type Report } from './report-types.js';

export interface ReportJsonOptions {
  /** Include every chunk's listing entry (`--list`: problems only, `--combined`: all). */
  listing?: 'problems' | 'all';
  /** Files written by writePlots / writeHtml. */
  plots?: readonly string[];
}

/**
 * The report as one JSON-ready object for scripts: every number, the problem lists, the malformed
 * lines. Per-chunk samples are left out (they are in the logs); durations are milliseconds.
 */
export function reportToJson(report: Report, options: ReportJsonOptions = {}): Record<string, unknown> {
  const json: Record<string, unknown> = {
    ok: report.verdict.ok,
    verdict: report.verdict.state,
    exit_code: report.verdict.exitCode,
    summary: report.verdict.summary,
    completion: report.completion,
    run: report.run,
    files: report.files,
    malformed: report.malformed,
    malformed_count: report.malformedCount,
    warnings: report.warnings,
    integrity: report.integrity,
    lists: report.lists,
    latency: { unit: 'ms', spread: 'belowMedian = median - p16, aboveMedian = p84 - median (never negative); minus = p16 - mean, plus = p84 - mean (either sign when skewed)', ...report.latency },
    windows: report.windows,
  };
  if (options.listing !== undefined) {
    json.listing = options.listing === 'all' ? report.listing : report.listing.filter(isProblem);
  }
  if (options.plots !== undefined) json.plots = options.plots;
  return json;
}
