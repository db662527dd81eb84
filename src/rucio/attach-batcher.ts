import { definedProps } from '../common/defined.js';
import type { Did, DidCalls, FileDid } from './client-dids.js';
import { RucioAuthenticationError, RucioTransientError, RucioUnavailableError, exceptionClassOf, isRucioError } from './errors.js';

export interface AttachBatcherOptions {
  /**
   * Most files in one request. Rucio takes many DIDs in one attach; the bound keeps one answer from
   * waiting on a long server transaction and a failed batch's fall-back to single calls short.
   */
  maxFiles?: number;
}

/** What a batcher sent so far. */
export interface AttachBatcherStats {
  /** Attach requests sent: batches and single calls (the HTTP layer's own retries not counted). */
  requests: number;
  /** Files that were part of a request of more than one file. */
  batchedFiles: number;
  /** Batches refused as a whole whose files were then attached one by one. */
  fallbacks: number;
}

interface Waiter {
  file: FileDid;
  /** scope:name of the file: one batch never names a DID twice. */
  didKey: string;
  signal: AbortSignal | undefined;
  settled: boolean;
  resolve: () => void;
  reject: (error: unknown) => void;
  forgetAbort: () => void;
}

/** The files waiting for one dataset on one RSE, and whether a request for them is out. */
interface Lane {
  key: string;
  dataset: Did;
  rse: string;
  pending: Waiter[];
  busy: boolean;
}

const defaultMaxFiles = 100;

/**
 * Opportunistic batching of `attachDids` with `rse` (register the replica AVAILABLE and attach the
 * file: the one catalog call of a fast upload) for uploads running side by side in one process.
 * Nothing waits on a timer: a file whose dataset and RSE have no request out is sent at once, so a
 * paced upload keeps its latency; files that finish their storage PUT while a request is out wait
 * for its answer and then go together as one request. Every caller's promise settles with its own
 * file's outcome:
 * - a batch that succeeds (or that the HTTP layer's read-back confirms after an uncertain failure)
 *   resolves every file of it;
 * - a batch refused for a reason that belongs to the whole request (credentials, the server or the
 *   network failing through every retry, a closed dataset) rejects every file with that error;
 * - any other refusal (a conflict or consistency error, which Rucio answers for the whole
 *   transaction without saying which file) is retried one file per request, so that each file gets
 *   its own answer and the caller's per-file recovery applies as if there had been no batch.
 */
export class AttachBatcher {
  readonly stats: AttachBatcherStats = { requests: 0, batchedFiles: 0, fallbacks: 0 };
  private readonly lanes = new Map<string, Lane>();
  private readonly maxFiles: number;

  constructor(
    private readonly client: Pick<DidCalls, 'attachDids'>,
    options: AttachBatcherOptions = {},
  ) {
    this.maxFiles = Math.max(1, options.maxFiles ?? defaultMaxFiles);
  }

  /** Files waiting for the answer of a request already out before theirs can go. */
  get waiting(): number {
    let count = 0;
    for (const lane of this.lanes.values()) for (const waiter of lane.pending) if (!waiter.settled) count++;
    return count;
  }

  /**
   * Registers `file` on `rse` as AVAILABLE and attaches it to `dataset`, alone or with other files
   * of the same dataset and RSE. An aborted `signal` rejects this file's promise at once with the
   * signal's reason; a request already sent for it and other files is not cancelled.
   */
  attach(dataset: Did, file: FileDid, options: { rse: string; signal?: AbortSignal | undefined }): Promise<void> {
    const { signal } = options;
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    const key = `${dataset.scope}\n${dataset.name}\n${options.rse}`;
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { key, dataset: { scope: dataset.scope, name: dataset.name }, rse: options.rse, pending: [], busy: false };
      this.lanes.set(key, lane);
    }
    const laneOf = lane;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        file,
        didKey: `${file.scope}:${file.name}`,
        signal,
        settled: false,
        resolve,
        reject,
        forgetAbort: () => undefined,
      };
      if (signal !== undefined) {
        const onAbort = (): void => {
          const index = laneOf.pending.indexOf(waiter);
          if (index >= 0) laneOf.pending.splice(index, 1);
          settle(waiter, signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.forgetAbort = () => signal.removeEventListener('abort', onAbort);
      }
      laneOf.pending.push(waiter);
      if (!laneOf.busy) void this.drain(laneOf);
    });
  }

  /** Sends the lane's files, a batch at a time, until none is waiting. The first batch leaves synchronously. */
  private async drain(lane: Lane): Promise<void> {
    lane.busy = true;
    try {
      for (let batch = this.take(lane); batch.length > 0; batch = this.take(lane)) await this.send(lane, batch);
    } finally {
      lane.busy = false;
      if (lane.pending.length === 0) this.lanes.delete(lane.key);
      else void this.drain(lane);
    }
  }

  /** The next batch: waiting files in arrival order, each DID once (a repeated one waits for the next batch). */
  private take(lane: Lane): Waiter[] {
    const batch: Waiter[] = [];
    const names = new Set<string>();
    const left: Waiter[] = [];
    for (const waiter of lane.pending) {
      if (waiter.settled) continue;
      if (batch.length < this.maxFiles && !names.has(waiter.didKey)) {
        names.add(waiter.didKey);
        batch.push(waiter);
      } else {
        left.push(waiter);
      }
    }
    lane.pending = left;
    return batch;
  }

  private async send(lane: Lane, batch: Waiter[]): Promise<void> {
    const [only] = batch;
    if (batch.length === 1 && only !== undefined) {
      await this.single(lane, only);
      return;
    }
    this.stats.requests++;
    this.stats.batchedFiles += batch.length;
    try {
      // No signal: one caller giving up must not cancel the others' request.
      await this.client.attachDids(lane.dataset.scope, lane.dataset.name, batch.map((waiter) => waiter.file), { rse: lane.rse });
    } catch (error) {
      if (refusesWholeRequest(error)) {
        for (const waiter of batch) settle(waiter, error);
        return;
      }
      this.stats.fallbacks++;
      await Promise.all(batch.map((waiter) => this.single(lane, waiter)));
      return;
    }
    for (const waiter of batch) settle(waiter);
  }

  /** One file, one request, exactly as without a batcher (the caller's signal included). */
  private async single(lane: Lane, waiter: Waiter): Promise<void> {
    if (waiter.settled) return;
    this.stats.requests++;
    try {
      await this.client.attachDids(lane.dataset.scope, lane.dataset.name, [waiter.file], { rse: lane.rse, ...definedProps({ signal: waiter.signal }) });
      settle(waiter);
    } catch (error) {
      settle(waiter, error);
    }
  }
}

function settle(waiter: Waiter, ...failure: [] | [unknown]): void {
  if (waiter.settled) return;
  waiter.settled = true;
  waiter.forgetAbort();
  if (failure.length === 0) waiter.resolve();
  else waiter.reject(failure[0]);
}

/**
 * Whether a failed batch's error is about the request as a whole, so that every file of it would get
 * the same answer alone: the credentials, the server or network failing through every retry (the
 * HTTP layer has already read back an uncertain write), a closed dataset. Anything else may be one
 * file's fault: the batch's files are then sent one by one.
 */
function refusesWholeRequest(error: unknown): boolean {
  if (error instanceof RucioTransientError || error instanceof RucioUnavailableError || error instanceof RucioAuthenticationError) return true;
  if (!isRucioError(error)) return false;
  const { exceptionMessage } = error.failure;
  return exceptionClassOf(error) === 'UnsupportedOperation' && /\bis closed\b/.test(exceptionMessage ?? '');
}
