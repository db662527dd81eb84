import { checkWritableDir } from '../common/writable-dir.js';
import { openSource, type ChunkSource, type SourceSpec } from '../strain/index.js';
import { planRun, type RunRequest, type RunSettings } from './run-plan.js';

export interface PreparedRun {
  /** The run's settings, but for the Rucio server it uploads to (set when the run starts). */
  plan: RunSettings;
  /** Open: the caller closes it. */
  source: ChunkSource;
}

/**
 * Everything a new upload run can find wrong with its request, found before it starts anything (a
 * private Redis, a dataset, a run directory): the schedule, the log directory and the source, opened
 * as the run will read it (a file that is not strain, a bad detector or sample rate, a period the
 * chunk format cannot hold). A problem is a UsageError/InputError (exit 2) and nothing is left behind.
 * `wavefier upload` runs it before it loads the queue and storage libraries, so that a usage error
 * is answered in a moment; `wavefier rehearse` runs it on the upload it is about to start.
 */
export async function prepareUploadRun(request: RunRequest, now: () => number = Date.now): Promise<PreparedRun> {
  const plan = planRun(request, undefined, now);
  await checkWritableDir(plan.logDir, '--log-dir');
  const source = await openSource(plan.source as SourceSpec, { runId: plan.runId, gpsStart: plan.gpsStart, duration: plan.duration });
  return { plan, source };
}
