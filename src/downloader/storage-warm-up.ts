import { setTimeout as sleep } from 'node:timers/promises';
import { warmUpChecksums } from '../common/checksum.js';
import { rucioNotFound, warmUpStorage, type RucioClient } from '../rucio/index.js';
import type { ActiveDownload } from './download-registry.js';

/** How long a worker waits for the dataset to appear (the upload creates it) and its storage to answer. */
const warmUpBudgetMs = 10_000;
const datasetRetryMs = 250;
/** Storage of at most this many of the dataset's RSEs is warmed up. */
const maxWarmRses = 4;

/**
 * Opens the connection to the storage the dataset's chunks will be read from, before the first
 * chunk: the RSEs its replication rules name (an upload's dataset has one rule on its RSE). A
 * dataset that does not exist yet is asked for again for a few seconds; rules with a compound
 * RSE expression, and any failure, leave the first chunk to pay for the connection itself.
 * Meanwhile the checksums a read is verified with are compiled (warmUpChecksums).
 */
export async function warmUpDatasetStorage(rucio: RucioClient, run: Pick<ActiveDownload, 'scope' | 'dataset'>, signal: AbortSignal): Promise<void> {
  const budget = AbortSignal.any([signal, AbortSignal.timeout(warmUpBudgetMs)]);
  const giveUp = new Promise<void>((resolve) => budget.addEventListener('abort', () => resolve(), { once: true }));
  const warm = async (): Promise<void> => {
    while (!budget.aborted) {
      try {
        let rules = await rucio.listDidRules(run.scope, run.dataset);
        if (rules.length === 0) {
          // Rucio lists no rules, not a 404, for a DID that does not exist: a dataset the upload has not
          // created yet (a rehearsal's download starts first) is asked for again below, not taken for one without rules.
          await rucio.getDid(run.scope, run.dataset);
          // It exists: it may have been created, with its rules, between the two questions (in 1 of 10
          // rehearsals under load the warm-up took it for a dataset without rules, and chunk 0 then
          // paid 15-25 ms to open its storage), or it has none.
          rules = await rucio.listDidRules(run.scope, run.dataset);
        }
        const rses = [...new Set(rules.map((rule) => rule.rseExpression).filter((expression) => /^[A-Za-z0-9_.-]+$/.test(expression)))];
        await Promise.all(rses.slice(0, maxWarmRses).map((rse) => warmUpStorage(rucio, rse, run.scope, 'read')));
        return;
      } catch (error) {
        if (!rucioNotFound(error)) return;
        await sleep(datasetRetryMs, undefined, { signal: budget }).catch(() => undefined);
      }
    }
  };
  // A catalog or storage that does not answer does not hold the worker back beyond the budget.
  await Promise.all([Promise.race([warm(), giveUp]), warmUpChecksums()]);
}
