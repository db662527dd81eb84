import type { DownloadChunkEvent, RunEvent, UploadChunkEvent } from '../common/log-records.js';
import { ChunkState, DownloadState, eventTime } from './chunk-state.js';
import { summariseLedger, type LedgerResult } from './ledger-summary.js';
import type { LogSink } from './log-reader.js';
import { newRunFacts, recordRunEvent, type RunFacts } from './run-facts.js';

export type { LedgerResult } from './ledger-summary.js';
export type { RunFacts } from './run-facts.js';

/**
 * Joins upload and download lines on the chunk's identity, never on where the logs were found: the
 * upload run id and seq (which the upload log writes and the downloader reads from the chunk's own
 * attributes), else the DID (a download line about bytes that were not decoded). With a `run`, lines
 * about chunks of other upload runs are set aside (a dataset may hold several runs).
 */
export class ChunkLedger implements LogSink {
  /** By upload run, then seq: one copy of each run id. */
  private readonly byIdentity = new Map<string, Map<number, ChunkState>>();
  /** By name (the DID within the run's scope): how download lines without an identity find their chunk. */
  private readonly byName = new Map<string, ChunkState>();
  private readonly chunks: ChunkState[] = [];
  /** Verified files that are not wavefier chunks, by DID. */
  private readonly foreign = new Map<string, string>();
  /** Chunks of other upload runs in the download logs, by run. */
  private readonly otherRuns = new Map<string, Set<number>>();
  /** Download lines without identity about names of another dataset (another downloader's log). */
  private otherDatasetLines = 0;
  /**
   * One copy of each upload run id for every chunk of it: each log line parses into a string of its
   * own, ~40 bytes per chunk kept for nothing (the live view of a rehearsal holds its ledger for the
   * whole run).
   */
  private readonly runIds = new Map<string, string>();
  readonly facts: RunFacts = newRunFacts();

  /** `run`: the upload run reported; undefined takes every run (download logs alone). */
  constructor(private readonly run: string | undefined) {}

  private sharedRun(run: string): string {
    const shared = this.runIds.get(run);
    if (shared !== undefined) return shared;
    this.runIds.set(run, run);
    return run;
  }

  private create(run: string | undefined, seq: number, name: string, scope: string | undefined): ChunkState {
    const state = new ChunkState(run === undefined ? undefined : this.sharedRun(run), name, seq, scope);
    this.chunks.push(state);
    if (run !== undefined) this.index(state, run, seq);
    if (!this.byName.has(name)) this.byName.set(name, state);
    return state;
  }

  private index(state: ChunkState, run: string, seq: number): void {
    let seqs = this.byIdentity.get(run);
    if (!seqs) {
      seqs = new Map();
      this.byIdentity.set(run, seqs);
    }
    seqs.set(seq, state);
  }

  private byId(run: string, seq: number): ChunkState | undefined {
    return this.byIdentity.get(run)?.get(seq);
  }

  /** The chunk of this name, unless both sides name a scope and they differ (then it is another DID). */
  private byDid(name: string, scope: string | undefined): ChunkState | undefined {
    const state = this.byName.get(name);
    if (state === undefined) return undefined;
    if (scope !== undefined && state.scope !== undefined && scope !== state.scope) return undefined;
    return state;
  }

  uploadChunk(event: UploadChunkEvent): void {
    if (this.run !== undefined && event.run !== this.run) return;
    const state = this.byId(event.run, event.seq) ?? this.create(event.run, event.seq, event.name, event.scope);
    state.scope ??= event.scope;
    this.facts.scope ??= event.scope;
    this.facts.dataset ??= event.dataset;
    if (event.late === true && event.event !== 'retry') state.late = true;
    if (!state.inUploadLog) state.tAvail = event.t_avail;
    switch (event.event) {
      case 'uploaded': {
        const tUploaded = event.t_uploaded ?? Number.NaN;
        if (state.uploads === 0 || tUploaded < state.tUploaded) {
          state.tAvail = event.t_avail;
          state.tEnqueued = event.t_enqueued ?? Number.NaN;
          state.tUploaded = tUploaded;
        }
        state.uploads++;
        break;
      }
      case 'failed':
        state.uploadFailures++;
        state.uploadError = event.error ?? state.uploadError;
        break;
      case 'retry':
        state.uploadRetries++;
        state.uploadError = event.error ?? state.uploadError;
        break;
      case 'skipped':
        state.uploadSkips++;
        state.skipReason = event.reason ?? 'unspecified';
        break;
    }
  }

  /** The chunk a download line is about, or undefined when it belongs to another run or dataset. */
  private downloadTarget(event: DownloadChunkEvent): ChunkState | undefined {
    const { run, seq } = event;
    if (run !== undefined && seq !== undefined) {
      if (this.run !== undefined && run !== this.run) {
        let seqs = this.otherRuns.get(run);
        if (!seqs) this.otherRuns.set(run, (seqs = new Set()));
        seqs.add(seq);
        return undefined;
      }
      const known = this.byId(run, seq);
      if (known) return known;
      // Seen before only by its DID (a failed or corrupted read): now it says who it is.
      const byName = this.byDid(event.name, event.scope);
      if (byName !== undefined && byName.run === undefined) {
        byName.run = this.sharedRun(run);
        byName.seq = seq;
        this.index(byName, run, seq);
        return byName;
      }
      return this.create(run, seq, event.name, event.scope);
    }
    const byName = this.byDid(event.name, event.scope);
    if (byName) return byName;
    if (this.facts.dataset !== undefined && event.dataset !== undefined && event.dataset !== this.facts.dataset) {
      this.otherDatasetLines++;
      return undefined;
    }
    return this.create(undefined, -1, event.name, event.scope);
  }

  downloadChunk(event: DownloadChunkEvent, order: number): void {
    if (event.event === 'verified' && event.foreign === true && event.run === undefined) {
      const chunk = this.byDid(event.name, event.scope);
      if (chunk === undefined || !chunk.inUploadLog) {
        if (this.facts.dataset === undefined || event.dataset === undefined || event.dataset === this.facts.dataset) {
          this.foreign.set(event.did ?? `${event.scope ?? this.facts.scope ?? ''}:${event.name}`, event.name);
        }
        return;
      }
      // The upload log says this DID is a chunk of the run: bytes that match the catalog yet do not
      // open as a chunk are a content error, whatever the downloader took them for.
      event = { ...event, event: 'invalid', error: 'its bytes match the catalog but are not a wavefier chunk (the downloader took it for a foreign file)' };
    }
    const state = this.downloadTarget(event);
    if (state === undefined) return;
    this.facts.scope ??= event.scope;
    this.facts.dataset ??= event.dataset;
    if (!Number.isFinite(state.downloadAvail) && event.t_avail !== undefined) state.downloadAvail = event.t_avail;
    const time = eventTime(event);
    if (time > this.facts.lastDownloadEventTime) this.facts.lastDownloadEventTime = time;
    const later =
      Number.isFinite(time) && Number.isFinite(state.lastDownloadTime)
        ? time > state.lastDownloadTime || (time === state.lastDownloadTime && order > state.lastDownloadOrder)
        : order > state.lastDownloadOrder;
    if (later) {
      state.lastDownload = DownloadState[event.event];
      state.lastDownloadTime = time;
      state.lastDownloadOrder = order;
    }
    switch (event.event) {
      case 'verified': {
        const tVerified = event.t_verified ?? Number.NaN;
        if (state.verifications === 0 || tVerified < state.tVerified) {
          state.tVerified = tVerified;
          state.tDetected = event.t_detected ?? Number.NaN;
          if (event.t_avail !== undefined) state.downloadAvail = event.t_avail;
        }
        state.verifications++;
        break;
      }
      case 'corrupted':
        state.corruptions++;
        break;
      case 'invalid':
        state.invalids++;
        state.invalidError = event.error ?? state.invalidError;
        break;
      case 'failed':
        state.downloadFailures++;
        state.downloadError = event.error ?? state.downloadError;
        break;
    }
  }

  runEvent(event: RunEvent, time: number | undefined, order: number): void {
    recordRunEvent(this.facts, this.run, event, time, order);
  }

  /** Whether the upload log gave the chunk of this name an outcome (uploaded, failed or skipped; a retry is none). */
  hasUploadOutcome(name: string): boolean {
    const state = this.byName.get(name);
    return state !== undefined && state.uploads + state.uploadFailures + state.uploadSkips > 0;
  }

  /** Chunks of the run the logs mention (not counting foreign files nor other runs' chunks). */
  get size(): number {
    return this.chunks.length;
  }

  /** The upload runs whose chunks the download logs hold besides the reported one. */
  get otherRunIds(): string[] {
    return [...this.otherRuns.keys()];
  }

  /**
   * Reconciles every chunk; `haveUploadLog` says whether "not in the upload log" means anything,
   * `haveDownloadLog` whether a chunk can be in flight to a downloader. `asOf`: a run looked at
   * while it runs (the live view), as if it stopped at that time. `countsOnly`: the integrity
   * counts and lists without the listing and the latency samples (see summariseLedger).
   */
  finish(haveUploadLog: boolean, haveDownloadLog: boolean, asOf?: number, countsOnly = false): LedgerResult {
    const { run, chunks, foreign, otherRuns, otherDatasetLines, facts } = this;
    return summariseLedger({ run, chunks, foreign, otherRuns, otherDatasetLines, facts }, haveUploadLog, haveDownloadLog, asOf, countsOnly);
  }
}
