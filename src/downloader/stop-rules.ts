import { formatDuration } from '../common/duration.js';
import type { RucioClient } from '../rucio/index.js';

/** When a download run stops (besides an abort): the --until-* and --duration flags. */
export interface StopRules {
  untilCount?: number;
  untilIdleMs?: number;
  untilClosed: boolean;
  durationMs?: number;
}

/** What the stop rules look at, taken before each poll. */
export interface RunPosition {
  aborted: boolean;
  now: number;
  startedAt: number;
  /** Verified by this run and by earlier runs of the same log. */
  verifiedTotal: number;
  /** Chunks given up on (corrupted or failed for good). */
  givenUp: number;
  /** Chunks handed to the workers and not finished. */
  inFlight: number;
  lastNewAt: number;
  datasetClosed: boolean;
  /** The dataset's length as the catalog last said, when known. */
  datasetLength: number | undefined;
}

/** Why the run stops now, or undefined to go on; the first rule that holds wins, an abort first. */
export function stopReason(rules: StopRules, position: RunPosition): string | undefined {
  const { now } = position;
  if (position.aborted) return 'interrupted';
  if (rules.untilCount !== undefined && position.verifiedTotal >= rules.untilCount) return `verified ${position.verifiedTotal} chunks`;
  if (rules.durationMs !== undefined && now - position.startedAt >= rules.durationMs) return `duration ${formatDuration(rules.durationMs)} reached`;
  if (rules.untilIdleMs !== undefined && position.inFlight === 0 && now - position.lastNewAt >= rules.untilIdleMs) {
    return `idle for ${formatDuration(rules.untilIdleMs)}`;
  }
  if (
    rules.untilClosed &&
    position.datasetClosed &&
    position.inFlight === 0 &&
    position.datasetLength !== undefined &&
    position.verifiedTotal + position.givenUp >= position.datasetLength
  ) {
    return 'dataset closed and every chunk in it handled';
  }
  return undefined;
}

/** How often --until-closed asks the catalog whether the dataset is closed, at most. */
const closedProbeEveryMs = 1000;

/**
 * The catalog side of --until-closed: whether the dataset is closed and how many files it holds,
 * asked at most once per {@link closedProbeEveryMs} (a poll can come every 250 ms).
 */
export class ClosedDatasetProbe {
  closed = false;
  length: number | undefined;
  private lastAskedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly client: RucioClient,
    private readonly scope: string,
    private readonly dataset: string,
  ) {}

  /** Asks the catalog when due; returns the number of catalog requests made (0 or 1). */
  async refresh(pollStartedAt: number): Promise<number> {
    if (pollStartedAt - this.lastAskedAt < closedProbeEveryMs) return 0;
    this.lastAskedAt = pollStartedAt;
    const did = await this.client.getDid(this.scope, this.dataset);
    this.closed = did.open === false;
    this.length = did.length ?? undefined;
    return 1;
  }
}
