import { formatDuration } from '../common/duration.js';
import { ExitCode, UnavailableError, errorMessage, isWavefierError, type WavefierError } from '../common/errors.js';
import type { EventLog } from '../common/event-log.js';
import type { Output } from '../common/output.js';
import { RucioAccessDeniedError, type RucioClient } from '../rucio/index.js';

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
  /** When the catalog first answered a poll (a "dataset not found" is an answer); undefined until then. */
  answeredAt: number | undefined;
  datasetClosed: boolean;
  /** The dataset's length as the catalog last said, when known. */
  datasetLength: number | undefined;
}

/**
 * Why the run stops now, or undefined to go on; the first rule that holds wins, an abort first.
 * Until the catalog has answered once, only an abort and --duration stop the run (a run stopped so
 * has not done its job: see CatalogContact), and --until-idle counts from that first answer.
 */
export function stopReason(rules: StopRules, position: RunPosition): string | undefined {
  const { now } = position;
  if (position.aborted) return 'interrupted';
  const duration = rules.durationMs !== undefined && now - position.startedAt >= rules.durationMs ? `duration ${formatDuration(rules.durationMs)} reached` : undefined;
  if (position.answeredAt === undefined) return duration;
  if (rules.untilCount !== undefined && position.verifiedTotal >= rules.untilCount) return `verified ${position.verifiedTotal} chunks`;
  if (duration !== undefined) return duration;
  const idleSince = Math.max(position.lastNewAt, position.answeredAt);
  if (rules.untilIdleMs !== undefined && position.inFlight === 0 && now - idleSince >= rules.untilIdleMs) {
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

  /** `known`: the catalog's answer from just before the run (the CLI asked it to choose the workers). */
  constructor(
    private readonly client: RucioClient,
    private readonly scope: string,
    private readonly dataset: string,
    known?: { open: boolean; length: number | undefined; askedAt: number },
  ) {
    if (known === undefined) return;
    this.closed = !known.open;
    this.length = known.length;
    this.lastAskedAt = known.askedAt;
  }

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

/** How long the catalog may go without answering before a download gives up, by default. */
export const defaultGiveUpAfterMs = 5 * 60_000;

/**
 * Whether the catalog answers, for a download that must say so when it cannot do its job: credentials
 * the server rejects (or any other configuration error) fail at once (exit 2), as does a refused
 * permission; a catalog that does not answer is tried again with one error line, until it has not
 * answered for `giveUpAfterMs` (then exit 1). A run that stops without one answer has failed.
 */
export class CatalogContact {
  /** When the catalog first answered. */
  answeredAt: number | undefined;
  private failingSince: number | undefined;
  private lastError: unknown;

  constructor(
    private readonly host: string,
    private readonly giveUpAfterMs: number,
    private readonly output: Output,
    private readonly log: EventLog,
  ) {}

  /** The catalog answered (a poll, or "no such dataset yet"). */
  answered(at: number): void {
    if (this.failingSince !== undefined) this.output.info(`the catalog at ${this.host} answers again, after ${formatDuration(at - this.failingSince)}`);
    this.failingSince = undefined;
    this.answeredAt ??= at;
  }

  /**
   * A request to the catalog failed: returns the error to stop with, or undefined to try again. The
   * first failure of a spell says so on stderr; the others go to the log.
   */
  failed(error: unknown, at: number): WavefierError | undefined {
    this.lastError = error;
    if (isWavefierError(error) && (error.exitCode === ExitCode.usage || error instanceof RucioAccessDeniedError)) return error;
    if (this.failingSince === undefined) {
      this.failingSince = at;
      this.output.error(
        `the catalog at ${this.host} does not answer (${errorMessage(error)}); trying again for up to ${formatDuration(this.giveUpAfterMs)} (--give-up-after)`,
      );
    } else {
      this.log.diagnostic('warn', 'the catalog still does not answer', { error: errorMessage(error), failing_ms: at - this.failingSince });
    }
    if (at - this.failingSince < this.giveUpAfterMs) return undefined;
    return new UnavailableError(
      `the catalog at ${this.host} has not answered for ${formatDuration(at - this.failingSince)} (last error: ${errorMessage(error)}); ` +
        'check rucio_host and the network, or allow longer with --give-up-after',
    );
  }

  /** The error for a run that stopped (for `reason`) before the catalog ever answered. */
  neverAnswered(reason: string): UnavailableError {
    const last = this.lastError === undefined ? 'no request finished' : `last error: ${errorMessage(this.lastError)}`;
    return new UnavailableError(`download stopped (${reason}) without one answer from the catalog at ${this.host} (${last}); nothing was checked`);
  }
}
