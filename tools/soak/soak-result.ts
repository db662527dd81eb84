import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, InputError, errorMessage } from '../../src/common/errors.js';
import type { FaultCounters } from '../../src/lake/index.js';
import { buildReport, renderListing, renderText, reportExitCode, reportToJson, type Report } from '../../src/report/index.js';
import { RucioClient, loadRucioConfig } from '../../src/rucio/index.js';
import { auditDataset } from './dataset-audit.js';
import type { InjectedFault } from './fault-injector.js';
import type { ProcessExit } from './fleet.js';
import { describeStep, type FaultStep } from './schedule.js';
import type { SoakEvents } from './soak-events.js';
import { soakVerdict, type SoakVerdict } from './verdict.js';

export interface SoakResult {
  run: string;
  runDir: string;
  dataset: string;
  count: number;
  wallMs: number;
  faults: InjectedFault[];
  /** Steps whose progress point was never reached (the run ended or stalled first). */
  notReached: FaultStep[];
  counters: FaultCounters;
  verdict: SoakVerdict;
  /** The usual report of the run's logs, or why there is none (the run stopped before any process logged). */
  report: Report | { missing: string };
  /** The report's own exit status (3 whenever anything is corrupted, which injected corruption causes). */
  reportExitCode: number;
  exitCode: 0 | 3;
  processes: Record<string, ProcessExit>;
  files: { summary: string; report: string; reportJson: string };
}

/** What the run left behind, once every process of it has stopped and the faults are cleared. */
export interface FinishedRun {
  run: string;
  runDir: string;
  scope: string;
  dataset: string;
  count: number;
  wallMs: number;
  /** The environment whose RUCIO_HOME reaches the lake. */
  env: NodeJS.ProcessEnv;
  events: SoakEvents;
  faults: InjectedFault[];
  notReached: FaultStep[];
  counters: FaultCounters;
  processes: Record<string, ProcessExit>;
  interrupted: boolean;
}

/**
 * The ground truth and the verdict: every stored object read back from the lake and compared with
 * the catalog, the checks of the verdict over that and the logs, the usual report of the logs, and
 * the files of the run (summary, report text and JSON).
 */
export async function judgeSoak(finished: FinishedRun, info: (line: string) => void): Promise<SoakResult> {
  const { runDir, events } = finished;
  info('reading every stored object back from the lake to compare with the catalog');
  const client = new RucioClient(await loadRucioConfig({ env: finished.env }));
  let audit;
  try {
    audit = await auditDataset(client, finished.scope, finished.dataset);
  } finally {
    await client.close();
  }

  const notInjected = finished.faults.filter((f) => !f.injected).map((f) => `${f.description}: ${f.outcome}`);
  for (const step of finished.notReached) notInjected.push(`${describeStep(step)}: progress never reached ${(step.at * 100).toFixed(0)}%`);
  const verdict = soakVerdict({
    scheduled: finished.count,
    uploads: events.uploads,
    downloads: events.downloads,
    audit,
    corruptedWrites: finished.counters.storage.corruptedWrites,
    notInjected,
  });

  const files = { summary: join(runDir, 'soak-summary.json'), report: join(runDir, 'report.txt'), reportJson: join(runDir, 'report.json') };
  const report = await reportOf(finished);
  if ('missing' in report) {
    await writeFile(files.report, `${report.missing}\n`);
    await writeFile(files.reportJson, `${JSON.stringify({ error: report.missing }, null, 2)}\n`);
  } else {
    const listing = renderListing(report, { all: false });
    await writeFile(files.report, `${renderText(report)}\n${listing === '' ? '' : `\n${listing}\n`}`);
    await writeFile(files.reportJson, `${JSON.stringify(reportToJson(report), null, 2)}\n`);
  }
  const result: SoakResult = {
    run: finished.run,
    runDir,
    dataset: finished.dataset,
    count: finished.count,
    wallMs: finished.wallMs,
    faults: finished.faults,
    notReached: finished.notReached,
    counters: finished.counters,
    verdict,
    report,
    reportExitCode: 'missing' in report ? ExitCode.runtime : reportExitCode(report),
    exitCode: verdict.ok && !finished.interrupted ? 0 : 3,
    processes: finished.processes,
    files,
  };
  await writeFile(files.summary, `${JSON.stringify(soakSummaryJson(result), null, 2)}\n`);
  return result;
}

/**
 * A run stopped before any of its processes wrote a log line (a deadline shorter than their start-up)
 * has no report; the soak's verdict still stands (every chunk is lost), so that is said, not thrown.
 */
async function reportOf(finished: FinishedRun): Promise<Report | { missing: string }> {
  try {
    return await buildReport([finished.runDir], { runId: finished.run });
  } catch (error) {
    if (!(error instanceof InputError) || finished.events.uploads.length + finished.events.downloads.length > 0) throw error;
    return { missing: `no report: no process of the run wrote a log before it stopped (${errorMessage(error)})` };
  }
}

/** The soak's result as plain JSON (the summary file and `--json`). */
export function soakSummaryJson(result: SoakResult): Record<string, unknown> {
  const { report } = result;
  return {
    run: result.run,
    run_dir: result.runDir,
    dataset: result.dataset,
    count: result.count,
    wall_ms: result.wallMs,
    ok: result.verdict.ok,
    exit_code: result.exitCode,
    counts: result.verdict.counts,
    checks: result.verdict.checks,
    faults: result.faults.map((f) => ({
      kind: f.step.kind,
      at: f.step.at,
      description: f.description,
      time: new Date(f.time).toISOString(),
      elapsed_ms: f.elapsedMs,
      progress: f.progress,
      injected: f.injected,
      outcome: f.outcome,
    })),
    not_reached: result.notReached,
    lake_counters: result.counters,
    report:
      'missing' in report
        ? { exit_code: result.reportExitCode, error: report.missing }
        : { exit_code: result.reportExitCode, verdict: report.verdict.summary, integrity: report.integrity },
    processes: result.processes,
    files: result.files,
  };
}
