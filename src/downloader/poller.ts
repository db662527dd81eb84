import { definedProps } from '../common/defined.js';
import { didOf } from '../common/log-records.js';
import { warmUpReplicaParsing, type ClockOffset, type ReplicaRecord, type RucioClient } from '../rucio/index.js';

export type PollMode = 'incremental' | 'full';

export interface PollerOptions {
  client: RucioClient;
  scope: string;
  dataset: string;
  mode: PollMode;
  /** Only replicas at RSEs matching this expression count (the replicated-chain case). */
  rseExpression?: string;
  /** Incremental mode: how often a full listing double-checks that nothing was missed. */
  reconcileEveryMs: number;
  /**
   * Incremental mode: how far back each poll looks before the previous one started while the
   * catalog's clock is unknown (no Date header yet): clocks differ between hosts.
   */
  overlapMs: number;
  /**
   * Incremental mode, once the catalog's clock is known (the client's catalogClock): each poll asks
   * for replicas updated after the previous poll's start in the server's time (its earliest
   * possible value); every `sweepEveryMs` a poll (a sweep) looks back to the previous sweep's start
   * less `registrationMarginMs` instead.
   */
  catalogClock?: { offset(): ClockOffset | undefined };
  /**
   * How long after its replica's update time a file may still become part of the dataset: the
   * official client's upload marks the replica AVAILABLE, then attaches it in a second request; a
   * transaction may commit a while after it stamped its rows.
   */
  registrationMarginMs?: number;
  /** How often a poll looks back by the registration margin (default defaultSweepEveryMs). */
  sweepEveryMs?: number;
  /**
   * The resolution of the catalog's update times (default 1 s: Rucio on Oracle or MySQL keeps whole
   * seconds). Finer (the embedded lake keeps milliseconds, PostgreSQL microseconds) lets each poll
   * ask from the previous one's start instead of the second before it.
   */
  catalogResolutionMs?: number;
  now?: () => number;
}

export interface PollResult {
  fresh: ReplicaRecord[];
  /** Catalog requests this poll made. */
  requests: number;
  full: boolean;
  /** Replicas the catalog listed, new or not (what the look-back costs). */
  listed: number;
  /** How far before the previous poll's start (in this host's time) an incremental poll looked. */
  lookBackMs?: number;
  /** An incremental poll that looked back by the registration margin (see PollerOptions.sweepEveryMs). */
  sweep?: boolean;
}

/** Default of registrationMarginMs. */
export const defaultRegistrationMarginMs = 1000;
/** Default of sweepEveryMs. */
export const defaultSweepEveryMs = 5000;

/**
 * Finds files of a dataset that have not been handed out yet.
 *
 * - `full` (the seed's approach): lists the whole dataset content every poll, then asks for the
 *   replicas of the new names. Each poll costs O(files in the dataset).
 * - `incremental` (default): one `POST /replicas/list` with `updated_after` per poll, which returns only
 *   recently registered replicas, with PFNs and checksums. Each poll costs O(new files). A full listing
 *   on the first poll, and every `reconcileEveryMs` when the dataset's length says files are unseen
 *   a listing of the dataset's names and the replicas of the unseen ones, catches anything the time
 *   filter could miss.
 *
 * Which files an incremental poll lists: a file becomes visible when it is attached (A), but the
 * catalog filters on its replica's update time (T <= A). A poll that asks from the previous poll's
 * start finds every file whose T is after that start: all of them when registration and attachment
 * are one step (wavefier's uploads, batched attachments), and then each file is listed about once
 * however often the polls go. A file stamped before a poll and attached after it (the official
 * client's mark-AVAILABLE-then-attach, a slow commit) is found by the next sweep, which asks from
 * the previous sweep's start less the registration margin: a file attached after that sweep has
 * T >= A - margin > that start - margin. A sweep every 5 s lists each file about once more; the
 * fixed look-back of every poll listed it ~8 times at 250 ms polls.
 */
export class DatasetPoller {
  /** DIDs handed out (`scope:name`): a dataset may hold files of several scopes with one name. */
  private readonly known = new Set<string>();
  private lastPollStartedAt: number | undefined;
  /** The start of the last poll that looked back by the registration margin, or listed everything. */
  private lastSweepStartedAt: number | undefined;
  private lastFullAt = Number.NEGATIVE_INFINITY;
  /** Whether the dataset is known to exist: Rucio lists a missing dataset's replicas and content as empty. */
  private datasetSeen = false;
  private readonly now: () => number;
  /** Whether the parsing of listed files was warmed up (see poll). */
  private parsingWarm = false;

  constructor(
    private readonly options: PollerOptions,
    alreadyDone: Iterable<string> = [],
  ) {
    this.now = options.now ?? Date.now;
    for (const name of alreadyDone) this.known.add(didOf(options.scope, name));
  }

  get knownCount(): number {
    return this.known.size;
  }

  /**
   * Makes a file eligible again (it could not be handed to the workers). Later polls may look back
   * no further than its update time: the next poll checks the dataset's length, and lists it fully
   * when it holds files not known.
   */
  forget(file: { scope: string; name: string }): void {
    this.known.delete(didOf(file.scope, file.name));
    this.lastFullAt = Number.NEGATIVE_INFINITY;
  }

  async poll(): Promise<PollResult> {
    const startedAt = this.now();
    const result = this.options.mode === 'full' ? await this.pollFull() : await this.pollIncremental(startedAt);
    if (result.fresh.length > 0 || this.known.size > 0) this.datasetSeen = true;
    if (!this.datasetSeen) {
      // An empty answer may mean "no such dataset" (a real Rucio 1.31 answers 200 with nothing):
      // asking for the DID itself tells the two apart, and throws DataIdentifierNotFound when absent.
      await this.options.client.getDid(this.options.scope, this.options.dataset);
      this.datasetSeen = true;
      result.requests++;
    }
    this.lastPollStartedAt = startedAt;
    if (result.full || result.sweep === true) this.lastSweepStartedAt = startedAt;
    // A download that starts before its stream lists nothing at first: the first file's answer would
    // pay for compiling its validation. Paid now, after this answer is on its way (once).
    if (!this.parsingWarm) {
      this.parsingWarm = true;
      if (result.listed === 0) setImmediate(warmUpReplicaParsing);
    }
    return result;
  }

  private async pollIncremental(startedAt: number): Promise<PollResult> {
    const { client, scope, dataset, rseExpression } = this.options;
    let full = this.lastPollStartedAt === undefined || startedAt - this.lastFullAt >= this.options.reconcileEveryMs;
    let requests = 1;
    if (full && this.lastPollStartedAt !== undefined) {
      // A full listing costs O(dataset): first ask the dataset's length, which is cheap, and
      // reconcile only when it holds files this poller has not seen.
      requests++;
      const did = await client.getDid(scope, dataset, { dynamic: true });
      if (typeof did.length === 'number' && did.length <= this.known.size) {
        full = false;
        this.lastFullAt = startedAt;
      } else {
        // In a dense stream the length always runs ahead of the files seen (some were attached since
        // the last poll): the dataset's names (~100 B each, nothing signed), then replicas only of
        // the names not seen, instead of every file's replicas (7 MB of signed PFNs at 14,400 files,
        // a burst of memory in the lake and here that grew with the dataset every minute).
        const reconciled = await this.unseenReplicas();
        this.lastFullAt = startedAt;
        return { fresh: this.handOut(reconciled.fresh), requests: 1 + reconciled.requests, full: true, listed: reconciled.listed };
      }
    }
    const since = full || this.lastPollStartedAt === undefined ? undefined : this.updatedAfter(startedAt, this.lastPollStartedAt);
    const query = {
      dids: [{ scope, name: dataset }],
      ...definedProps({ rseExpression }),
      ...(since === undefined ? {} : { updatedAfter: since.serverTime }),
    };
    const fresh = new Map<string, ReplicaRecord>();
    let listed = 0;
    for await (const replica of client.listReplicas(query)) {
      listed++;
      this.offer(replica, fresh);
    }
    if (full) this.lastFullAt = startedAt;
    return {
      fresh: this.handOut(fresh),
      requests,
      full,
      listed,
      ...definedProps({ lookBackMs: since?.lookBackMs, sweep: since?.sweep }),
    };
  }

  /**
   * The `updated_after` of an incremental poll, in the server's time: the previous poll's start in
   * the server's time at its earliest (the lower bound of the measured offset); for a sweep, the
   * previous sweep's start less the margin for a registration in progress; rounded down to the
   * catalog's resolution. Without a measured offset, the fixed overlap before the previous poll
   * (and every poll is a sweep).
   */
  private updatedAfter(startedAt: number, previousStart: number): { serverTime: number; lookBackMs: number; sweep: boolean } {
    const offset = this.options.catalogClock?.offset();
    const resolution = this.options.catalogResolutionMs ?? 1000;
    const floor = (time: number): number => Math.floor(time / resolution) * resolution;
    if (offset === undefined) {
      const serverTime = floor(previousStart - this.options.overlapMs);
      return { serverTime, lookBackMs: previousStart - serverTime, sweep: true };
    }
    const sweepEvery = this.options.sweepEveryMs ?? defaultSweepEveryMs;
    const lastSweep = this.lastSweepStartedAt;
    const sweep = lastSweep === undefined || startedAt - lastSweep >= sweepEvery;
    const margin = this.options.registrationMarginMs ?? defaultRegistrationMarginMs;
    const from = sweep ? (lastSweep ?? previousStart) + offset.low - margin : previousStart + offset.low;
    const serverTime = floor(from);
    return { serverTime, lookBackMs: previousStart - (serverTime - offset.low), sweep };
  }

  private async pollFull(): Promise<PollResult> {
    const { fresh, requests, listed } = await this.unseenReplicas();
    return { fresh: this.handOut(fresh), requests, full: true, listed };
  }

  /** The dataset's content by name, then the replicas of the names not handed out yet. */
  private async unseenReplicas(): Promise<{ fresh: Map<string, ReplicaRecord>; requests: number; listed: number }> {
    const { client, scope, dataset, rseExpression } = this.options;
    const names: { scope: string; name: string }[] = [];
    for await (const entry of client.listContent(scope, dataset)) {
      if (!this.known.has(didOf(entry.scope, entry.name))) names.push({ scope: entry.scope, name: entry.name });
    }
    const fresh = new Map<string, ReplicaRecord>();
    let requests = 1;
    let listed = 0;
    // Ask for replicas in batches so a large first poll does not become one huge request.
    for (let start = 0; start < names.length; start += 500) {
      requests++;
      const query = { dids: names.slice(start, start + 500), ...definedProps({ rseExpression }) };
      for await (const replica of client.listReplicas(query)) {
        listed++;
        this.offer(replica, fresh);
      }
    }
    return { fresh, requests, listed };
  }

  private offer(replica: ReplicaRecord, fresh: Map<string, ReplicaRecord>): void {
    const did = didOf(replica.scope, replica.name);
    if (this.known.has(did)) return;
    // A file with no available replica (yet) at the wanted RSE is not ready: a later poll will see it.
    if (replica.pfns.length === 0) return;
    fresh.set(did, replica);
  }

  /**
   * Names become known only once a whole listing arrived: a listing that breaks off half-way marks
   * nothing, and the next poll offers the same files again. The caller forgets a name it could not
   * take (see forget()).
   */
  private handOut(fresh: Map<string, ReplicaRecord>): ReplicaRecord[] {
    for (const did of fresh.keys()) this.known.add(did);
    return [...fresh.values()];
  }
}
