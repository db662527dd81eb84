import type { RucioClient } from '../rucio/index.js';
import type { DatasetAtStart } from './download-run-options.js';

/** How a download verifies, as its flags and the dataset decide. */
export interface WorkersChoice {
  /** 0: in this process. */
  workers: number;
  /** Why, when the download chose rather than the user. */
  reason?: string;
  /** The catalog's answer the choice was made on, handed to the run (--until-closed starts from it). */
  datasetAtStart?: DatasetAtStart;
}

/** What of the flags decides where a download verifies. */
export interface WorkersRequest {
  /** --workers, or its default. */
  workers: number;
  /** Whether --workers was given: an explicit count is always honoured. */
  workersGiven: boolean;
  redisUrl: string | undefined;
  untilClosed: boolean;
}

/** Said in run_started, the `ready` line and the summary. */
export const closedDatasetReason = 'the dataset was closed when the download started: a finite batch';

/**
 * Whether the choice hangs on the dataset: `--until-closed` with neither `--workers` nor `--redis`.
 * A dataset already closed is a finite batch, nothing to scale out against a stream: it is verified
 * in this process (like `rucio download`'s threads), without a Redis or worker processes to start.
 */
export function choiceNeedsDataset(request: WorkersRequest): boolean {
  return request.untilClosed && !request.workersGiven && request.redisUrl === undefined;
}

/**
 * Asks the catalog about the dataset (one GET of its DID, the request --until-closed makes anyway) and
 * chooses: closed → in this process; open, absent or not answered → `request.workers` (the run then
 * handles a catalog that does not answer, or rejects the credentials, as it always does).
 */
export async function chooseWorkers(request: WorkersRequest, rucio: Pick<RucioClient, 'getDid'>, scope: string, dataset: string): Promise<WorkersChoice> {
  if (!choiceNeedsDataset(request)) return { workers: request.workers };
  const askedAt = Date.now();
  const did = await rucio.getDid(scope, dataset).catch(() => undefined);
  if (did === undefined || did.open !== false) return { workers: request.workers };
  return { workers: 0, reason: closedDatasetReason, datasetAtStart: { open: false, length: did.length ?? undefined, askedAt } };
}
