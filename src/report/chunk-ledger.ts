import type { DownloadChunkEvent, RunEvent, UploadChunkEvent } from '../common/log-records.js';
import type { LogSink } from './log-reader.js';
import type { ChunkListingEntry, Completion, Integrity, IntegrityLists, LatencySamples, LogSide, SideEnding, WriterCounts } from './report-types.js';

const DownloadState = { none: 0, verified: 1, corrupted: 2, failed: 3, invalid: 4 } as const;
type DownloadState = (typeof DownloadState)[keyof typeof DownloadState];

/**
 * What the logs say about one chunk, kept to a few numbers so that a soak of a million chunks stays
 * small. Latency times come from the first successful event of each side; the download's final
 * state from its last event (by event time, then by reading order).
 */
class ChunkState {
  uploads = 0;
  uploadFailures = 0;
  uploadSkips = 0;
  uploadRetries = 0;
  /** An outcome line (uploaded, failed, skipped) flagged it late: the one definition of a late chunk. */
  late = false;
  skipReason: string | undefined = undefined;
  uploadError: string | undefined = undefined;
  /** t_avail of the first successful upload, else of the first upload event seen. */
  tAvail = Number.NaN;
  tEnqueued = Number.NaN;
  tUploaded = Number.NaN;

  verifications = 0;
  /** Corrupted reads: one download line each. */
  corruptions = 0;
  invalids = 0;
  downloadFailures = 0;
  lastDownload: DownloadState = DownloadState.none;
  lastDownloadTime = Number.NaN;
  lastDownloadOrder = -1;
  downloadError: string | undefined = undefined;
  invalidError: string | undefined = undefined;
  downloadAvail = Number.NaN;
  tDetected = Number.NaN;
  tVerified = Number.NaN;

  constructor(
    /** The upload run, as the upload log or the chunk itself says; undefined while only its DID is known. */
    public run: string | undefined,
    readonly name: string,
    /** -1 until an event says it (a download line lacks it when the bytes were not decoded). */
    public seq: number,
    public scope: string | undefined,
  ) {}

  get inUploadLog(): boolean {
    return this.uploads + this.uploadFailures + this.uploadSkips + this.uploadRetries > 0;
  }

  get inDownloadLog(): boolean {
    return this.verifications + this.corruptions + this.invalids + this.downloadFailures > 0;
  }

  get uploadFailedForGood(): boolean {
    return this.uploads === 0 && (this.uploadFailures > 0 || this.uploadWithoutOutcome);
  }

  /** Its upload was being retried when the upload log ends: no outcome line (uploaded, failed, skipped). */
  get uploadWithoutOutcome(): boolean {
    return this.uploads === 0 && this.uploadFailures === 0 && this.uploadSkips === 0 && this.uploadRetries > 0;
  }

  get skippedForGood(): boolean {
    return this.uploads === 0 && !this.uploadFailedForGood && this.uploadSkips > 0;
  }

  /** Verified at least once and not found corrupted or invalid afterwards. */
  get delivered(): boolean {
    return this.verifications > 0 && this.lastDownload !== DownloadState.corrupted && this.lastDownload !== DownloadState.invalid;
  }

  get avail(): number {
    return Number.isFinite(this.tAvail) ? this.tAvail : this.downloadAvail;
  }

  /** When it reached the lake, as far as the upload log says (t_avail when t_uploaded is absent). */
  get uploadTime(): number {
    return Number.isFinite(this.tUploaded) ? this.tUploaded : this.tAvail;
  }
}

function eventTime(event: DownloadChunkEvent): number {
  return event.t_verified ?? event.t_downloaded ?? event.t_detected ?? Number.NaN;
}

/** The last run event of one side: by its time, then by reading order. */
interface LastRunEvent {
  kind: RunEvent['event'];
  reason: string | undefined;
  time: number;
  order: number;
}

export interface RunFacts {
  scheduled: number | undefined;
  t0: number | undefined;
  periodMs: number | undefined;
  scope: string | undefined;
  dataset: string | undefined;
  writerCounts: WriterCounts[];
  lastRunEvent: Record<LogSide, LastRunEvent | undefined>;
  /** Latest time of any download chunk event: where a download log without run_finished stops. */
  lastDownloadEventTime: number;
}

export interface LedgerResult {
  completion: Completion;
  integrity: Integrity;
  lists: IntegrityLists;
  listing: ChunkListingEntry[];
  samples: LatencySamples;
  recordRuns: string[];
  warnings: string[];
}

/** In a run stopped early, how long before the downloader stopped an upload may be and still be in flight, besides twice the run's longest upload-to-verified time. */
const inFlightMarginMs = 5000;

/** Largest schedule whose never-logged sequence numbers are enumerated (a byte per chunk). */
const maxEnumeratedSchedule = 100_000_000;

/** Names listed in a warning, at most. */
const namesInWarning = 5;

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
  readonly facts: RunFacts = {
    scheduled: undefined,
    t0: undefined,
    periodMs: undefined,
    scope: undefined,
    dataset: undefined,
    writerCounts: [],
    lastRunEvent: { upload: undefined, download: undefined },
    lastDownloadEventTime: Number.NEGATIVE_INFINITY,
  };

  /** `run`: the upload run reported; undefined takes every run (download logs alone). */
  constructor(private readonly run: string | undefined) {}

  private create(run: string | undefined, seq: number, name: string, scope: string | undefined): ChunkState {
    const state = new ChunkState(run, name, seq, scope);
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
        byName.run = run;
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
    const facts = this.facts;
    // Upload run events name the run; a download log's run events name its folder, so they are
    // taken when they are about the run's dataset (the reader already left out other datasets).
    if (event.side === 'upload' && this.run !== undefined && event.run !== this.run) return;
    if (event.side === 'download' && facts.dataset !== undefined && event.dataset !== undefined && event.dataset !== facts.dataset) return;
    const last = facts.lastRunEvent[event.side];
    const at = time ?? Number.NaN;
    // Without times (hand-written logs), reading order decides.
    const isLater = last === undefined || (Number.isFinite(at) && Number.isFinite(last.time) && at !== last.time ? at > last.time : order > last.order);
    if (isLater) facts.lastRunEvent[event.side] = { kind: event.event, reason: event.reason, time: at, order };
    if (event.side === 'upload') {
      facts.scope ??= event.scope;
      facts.dataset ??= event.dataset;
    }
    if (event.event === 'run_started' && event.side === 'upload') {
      if (event.scheduled !== undefined) facts.scheduled = Math.max(facts.scheduled ?? 0, event.scheduled);
      if (event.t0 !== undefined) facts.t0 = Math.min(facts.t0 ?? Number.POSITIVE_INFINITY, event.t0);
      facts.periodMs ??= event.period_ms;
    }
    if (event.event === 'run_finished' && event.counts) {
      facts.writerCounts.push({ side: event.side, counts: event.counts, reason: event.reason });
    }
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
   * Whether the writers ran to the end and, if not, when the downloader stopped and how long before
   * that an upload may be and still count as in flight.
   */
  private completion(chunks: readonly ChunkState[], haveDownloadLog: boolean, asOf: number | undefined): Completion {
    const upload = endingOf(this.facts.lastRunEvent.upload);
    const download = endingOf(this.facts.lastRunEvent.download);
    const state = upload === 'interrupted' || download === 'interrupted' ? 'interrupted' : upload === 'unfinished' || download === 'unfinished' ? 'unfinished' : 'complete';
    const last = this.facts.lastRunEvent.download;
    const finishedAt = last?.kind === 'run_finished' && Number.isFinite(last.time) ? last.time : Number.NaN;
    const stoppedAt = asOf ?? (Number.isFinite(finishedAt) ? finishedAt : this.facts.lastDownloadEventTime);
    const downloadStoppedAt = haveDownloadLog && Number.isFinite(stoppedAt) ? stoppedAt : undefined;
    if (state === 'complete' || downloadStoppedAt === undefined) return { state, upload, download, downloadStoppedAt, graceMs: undefined };
    // A downloader with a backlog verifies late: allow twice the worst delay it showed in this run.
    let longest = 0;
    for (const chunk of chunks) {
      const lag = chunk.tVerified - chunk.uploadTime;
      if (chunk.delivered && lag > longest) longest = lag;
    }
    return { state, upload, download, downloadStoppedAt, graceMs: inFlightMarginMs + 2 * longest };
  }

  /**
   * Reconciles every chunk; `haveUploadLog` says whether "not in the upload log" means anything,
   * `haveDownloadLog` whether a chunk can be in flight to a downloader. `asOf`: a run looked at
   * while it runs (the live view), as if it stopped at that time.
   */
  finish(haveUploadLog: boolean, haveDownloadLog: boolean, asOf?: number): LedgerResult {
    const warnings: string[] = [];
    // A download line without identity about a name no upload log of the run has: with the run's
    // upload logs at hand it is a file of another run in the same dataset (or of an uploading host
    // whose log is missing, which the scheduled-but-in-no-log count catches); it is not judged here.
    const unattributed = haveUploadLog ? this.chunks.filter((chunk) => chunk.run === undefined && !chunk.inUploadLog) : [];
    const set = new Set(unattributed);
    const chunks = this.chunks.filter((chunk) => !set.has(chunk)).sort(compareChunks);
    if (unattributed.length > 0) {
      const names = unattributed.slice(0, namesInWarning).map((chunk) => chunk.name);
      warnings.push(
        `${unattributed.length} file(s) of the dataset that are in no upload log of run ${this.run ?? '?'} were never read intact (${names.join(', ')}${unattributed.length > namesInWarning ? ', ...' : ''}): not counted; if they are chunks of this run, pass the upload logs of every uploading host`,
      );
    }
    const completion = this.completion(chunks, haveDownloadLog, asOf);
    const inFlightFrom =
      completion.downloadStoppedAt !== undefined && completion.graceMs !== undefined ? completion.downloadStoppedAt - completion.graceMs : Number.POSITIVE_INFINITY;
    const lists: IntegrityLists = {
      missing: [],
      inFlight: [],
      corrupted: [],
      invalid: [],
      recovered: [],
      failedUploads: [],
      downloadFailures: [],
      skipped: [],
      late: [],
      duplicateUploads: [],
      duplicateVerifications: [],
      notInUploadLog: [],
      foreign: [...this.foreign.values()].sort(),
      unaccountedSeqs: [],
    };
    const skippedByReason: Record<string, number> = {};
    const listing: ChunkListingEntry[] = [];
    const runs = new Set<string>();
    let uploaded = 0;
    let downloaded = 0;
    let verified = 0;
    let corruptedReads = 0;
    let chunksWithCorruptedRead = 0;
    let highestSeq = -1;
    for (const chunk of chunks) {
      if (chunk.run !== undefined) runs.add(chunk.run);
      highestSeq = Math.max(highestSeq, chunk.seq);
      if (chunk.uploads > 0) uploaded++;
      if (chunk.verifications + chunk.corruptions + chunk.invalids > 0) downloaded++;
      if (chunk.delivered) verified++;
      corruptedReads += chunk.corruptions;
      if (chunk.corruptions > 0) chunksWithCorruptedRead++;
      if (chunk.uploads > 1) lists.duplicateUploads.push(chunk.name);
      if (chunk.verifications > 1) lists.duplicateVerifications.push(chunk.name);
      if (chunk.late) lists.late.push(chunk.name);
      if (chunk.corruptions > 0 && chunk.delivered) lists.recovered.push(chunk.name);
      // A chunk still being retried when a run stopped early is in flight, as the uploader counts it;
      // in a run that says it is complete it had no outcome at all, which is a failure.
      const uploadInFlight = chunk.uploadWithoutOutcome && completion.state !== 'complete';
      if (chunk.uploadFailedForGood && !uploadInFlight) {
        lists.failedUploads.push({
          name: chunk.name,
          error: chunk.uploadFailures > 0 ? chunk.uploadError : `no final event after ${chunk.uploadRetries} retries (uploader stopped mid-retry?)${chunk.uploadError ? `: ${chunk.uploadError}` : ''}`,
        });
      }
      if (chunk.skippedForGood) {
        const reason = chunk.skipReason ?? 'unspecified';
        lists.skipped.push({ name: chunk.name, reason });
        skippedByReason[reason] = (skippedByReason[reason] ?? 0) + 1;
      }
      const notInUploadLog = haveUploadLog && !chunk.inUploadLog && chunk.inDownloadLog;
      if (notInUploadLog) lists.notInUploadLog.push(chunk.name);
      if (!chunk.delivered && chunk.lastDownload === DownloadState.failed) {
        lists.downloadFailures.push({ name: chunk.name, error: chunk.downloadError });
      }
      const inFlight = uploadInFlight || (chunk.uploads > 0 && chunk.lastDownload === DownloadState.none && chunk.uploadTime >= inFlightFrom);
      const entry = this.classify(chunk, notInUploadLog, inFlight, uploadInFlight);
      if (entry) {
        listing.push(entry);
        if (chunk.lastDownload === DownloadState.invalid) lists.invalid.push({ name: chunk.name, error: chunk.invalidError });
        else if (entry.status === '*') lists.corrupted.push(chunk.name);
        if (entry.status === '-') lists.missing.push(chunk.name);
        if (entry.status === '~') lists.inFlight.push(chunk.name);
      }
    }

    const scheduledFromRun = this.facts.scheduled;
    const scheduled = scheduledFromRun ?? highestSeq + 1;
    if (scheduled <= maxEnumeratedSchedule) {
      const seen = new Uint8Array(scheduled);
      let beyond = 0;
      for (const chunk of chunks) {
        if (chunk.seq < 0) continue;
        if (chunk.seq < scheduled) seen[chunk.seq] = 1;
        else beyond++;
      }
      for (let seq = 0; seq < scheduled; seq++) if (seen[seq] === 0) lists.unaccountedSeqs.push(seq);
      if (beyond > 0) warnings.push(`${beyond} chunks have a seq beyond the ${scheduled} scheduled by run_started`);
    } else {
      warnings.push(`run_started schedules ${scheduled} chunks: too many to check which were never logged`);
    }
    if (runs.size > 1) warnings.push(`the logs mix upload runs ${[...runs].join(', ')}; chunks are joined by run and seq`);
    if (this.otherRuns.size > 0) {
      const others = [...this.otherRuns].map(([run, seqs]) => `${run} (${seqs.size})`);
      warnings.push(`the download logs also hold chunks of other upload runs, not counted here: ${others.join(', ')}; choose a run with --run`);
    }
    if (this.otherDatasetLines > 0) warnings.push(`${this.otherDatasetLines} download lines about another dataset than ${this.facts.dataset ?? '?'} were left out`);

    const integrity: Integrity = {
      scheduled,
      scheduledSource: scheduledFromRun === undefined ? 'highest-seq' : 'run_started',
      uploaded,
      failedUploads: lists.failedUploads.length,
      skipped: lists.skipped.length,
      skippedByReason,
      late: lists.late.length,
      downloaded,
      verified,
      corruptedReads,
      chunksWithCorruptedRead,
      corrupted: lists.corrupted.length,
      invalid: lists.invalid.length,
      recovered: lists.recovered.length,
      missing: lists.missing.length,
      inFlight: lists.inFlight.length,
      downloadFailures: lists.downloadFailures.length,
      duplicateUploads: lists.duplicateUploads.length,
      duplicateVerifications: lists.duplicateVerifications.length,
      notInUploadLog: lists.notInUploadLog.length,
      foreign: lists.foreign.length,
      unaccounted: lists.unaccountedSeqs.length,
    };
    return { completion, integrity, lists, listing, samples: samplesOf(chunks), recordRuns: [...runs].sort(), warnings };
  }

  /** The rclone-`check --combined`-like status; undefined for a chunk deliberately skipped. */
  private classify(chunk: ChunkState, notInUploadLog: boolean, inFlight: boolean, uploadInFlight: boolean): ChunkListingEntry | undefined {
    const base = { name: chunk.name, seq: chunk.seq, run: chunk.run ?? '' };
    if (chunk.lastDownload === DownloadState.invalid) {
      return { ...base, status: '*', detail: `content error: ${chunk.invalidError ?? 'the bytes match the catalog but are not a valid chunk'}` };
    }
    if (chunk.lastDownload === DownloadState.corrupted) {
      return { ...base, status: '*', detail: `corrupted in ${chunk.corruptions} read(s)${chunk.verifications > 0 ? ' (also verified once, then corrupted)' : ''}` };
    }
    if (uploadInFlight && !chunk.delivered) return { ...base, status: '~', detail: 'in flight: its upload was still being retried when the uploader stopped' };
    if (chunk.uploadFailedForGood && !uploadInFlight) {
      return { ...base, status: '!', detail: chunk.delivered ? 'upload logged as failed, yet verified downstream' : 'upload failed' };
    }
    if (chunk.delivered) {
      const detail = chunk.corruptions > 0 ? `recovered after ${chunk.corruptions} corrupted read(s)` : undefined;
      return { ...base, status: notInUploadLog ? '+' : '=', detail: notInUploadLog ? 'downloaded, not in the upload log' : detail };
    }
    if (chunk.skippedForGood && !chunk.inDownloadLog) return undefined;
    if (inFlight) return { ...base, status: '~', detail: 'in flight: uploaded, not yet downloaded when the run stopped' };
    if (chunk.lastDownload === DownloadState.failed) return { ...base, status: '-', detail: `download failed${chunk.downloadError ? `: ${chunk.downloadError}` : ''}` };
    return { ...base, status: '-', detail: 'never downloaded' };
  }
}

function endingOf(last: LastRunEvent | undefined): SideEnding {
  if (last === undefined) return 'none';
  // A side that stopped on an error (a full disk) ended no better than one that crashed.
  if (last.kind === 'run_started' || last.reason === 'failed') return 'unfinished';
  return last.reason === 'interrupted' ? 'interrupted' : 'finished';
}

/** By run, then seq, then name: the order of the listing. */
function compareChunks(a: ChunkState, b: ChunkState): number {
  const runA = a.run ?? '';
  const runB = b.run ?? '';
  if (runA !== runB) return runA < runB ? -1 : 1;
  if (a.seq !== b.seq) return a.seq - b.seq;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function samplesOf(chunks: readonly ChunkState[]): LatencySamples {
  const timed = chunks.filter((chunk) => Number.isFinite(chunk.avail)).sort((a, b) => a.avail - b.avail);
  const n = timed.length;
  const samples: LatencySamples = {
    tAvail: new Float64Array(n),
    pacingError: new Float64Array(n),
    upload: new Float64Array(n),
    detection: new Float64Array(n),
    total: new Float64Array(n),
  };
  timed.forEach((chunk, index) => {
    const avail = chunk.avail;
    samples.tAvail[index] = avail;
    // NaN propagates: a chunk without the needed times has no value for that metric.
    samples.pacingError[index] = chunk.tEnqueued - chunk.tAvail;
    samples.upload[index] = chunk.tUploaded - chunk.tAvail;
    samples.detection[index] = chunk.tDetected - chunk.tUploaded;
    samples.total[index] = chunk.verifications > 0 ? chunk.tVerified - avail : Number.NaN;
  });
  return samples;
}
