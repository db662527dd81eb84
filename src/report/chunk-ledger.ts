import type { DownloadChunkEvent, RunEvent, UploadChunkEvent } from '../common/log-records.js';
import type { LogSink } from './log-reader.js';
import type { ChunkListingEntry, Completion, Integrity, IntegrityLists, LatencySamples, LogSide, SideEnding, WriterCounts } from './report-types.js';

const DownloadState = { none: 0, verified: 1, corrupted: 2, failed: 3 } as const;
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
  late = false;
  skipReason: string | undefined = undefined;
  uploadError: string | undefined = undefined;
  /** t_avail of the first successful upload, else of the first upload event seen. */
  tAvail = Number.NaN;
  tEnqueued = Number.NaN;
  tUploaded = Number.NaN;

  verifications = 0;
  corruptions = 0;
  downloadFailures = 0;
  lastDownload: DownloadState = DownloadState.none;
  lastDownloadTime = Number.NaN;
  lastDownloadOrder = -1;
  downloadError: string | undefined = undefined;
  downloadAvail = Number.NaN;
  tDetected = Number.NaN;
  tVerified = Number.NaN;

  constructor(
    readonly run: string,
    readonly name: string,
    /** -1 until an event says it (a download event lacks it when the bytes did not decode). */
    public seq: number,
  ) {}

  get inUploadLog(): boolean {
    return this.uploads + this.uploadFailures + this.uploadSkips + this.uploadRetries > 0;
  }

  get inDownloadLog(): boolean {
    return this.verifications + this.corruptions + this.downloadFailures > 0;
  }

  get uploadFailedForGood(): boolean {
    return this.uploads === 0 && (this.uploadFailures > 0 || (this.uploadRetries > 0 && this.uploadSkips === 0));
  }

  get skippedForGood(): boolean {
    return this.uploads === 0 && !this.uploadFailedForGood && this.uploadSkips > 0;
  }

  /** Verified at least once and not found corrupted afterwards. */
  get delivered(): boolean {
    return this.verifications > 0 && this.lastDownload !== DownloadState.corrupted;
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
export const inFlightMarginMs = 5000;

/** Largest schedule whose never-logged sequence numbers are enumerated (a byte per chunk). */
const maxEnumeratedSchedule = 100_000_000;

/** Joins upload and download chunk events on (run, name) and reconciles them. */
export class ChunkLedger implements LogSink {
  /** Per run, per name: no concatenated key string per event, and one copy of each run id. */
  private readonly runs = new Map<string, { id: string; chunks: Map<string, ChunkState> }>();
  private count = 0;
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

  private chunk(run: string, name: string, seq: number | undefined): ChunkState {
    let known = this.runs.get(run);
    if (!known) {
      known = { id: run, chunks: new Map() };
      this.runs.set(run, known);
    }
    let state = known.chunks.get(name);
    if (!state) {
      state = new ChunkState(known.id, name, seq ?? -1);
      known.chunks.set(name, state);
      this.count++;
    } else if (state.seq < 0 && seq !== undefined) {
      state.seq = seq;
    }
    return state;
  }

  uploadChunk(event: UploadChunkEvent): void {
    const state = this.chunk(event.run, event.name, event.seq);
    this.facts.scope ??= event.scope;
    this.facts.dataset ??= event.dataset;
    if (event.late === true) state.late = true;
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

  downloadChunk(event: DownloadChunkEvent, order: number): void {
    const state = this.chunk(event.run, event.name, event.seq);
    this.facts.scope ??= event.scope;
    this.facts.dataset ??= event.dataset;
    if (!Number.isFinite(state.downloadAvail) && event.t_avail !== undefined) state.downloadAvail = event.t_avail;
    const time = eventTime(event);
    if (time > this.facts.lastDownloadEventTime) this.facts.lastDownloadEventTime = time;
    const later =
      Number.isFinite(time) && Number.isFinite(state.lastDownloadTime)
        ? time > state.lastDownloadTime || (time === state.lastDownloadTime && order > state.lastDownloadOrder)
        : order > state.lastDownloadOrder;
    const kind = event.event === 'verified' ? DownloadState.verified : event.event === 'corrupted' ? DownloadState.corrupted : DownloadState.failed;
    if (later) {
      state.lastDownload = kind;
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
      case 'failed':
        state.downloadFailures++;
        state.downloadError = event.error ?? state.downloadError;
        break;
    }
  }

  runEvent(event: RunEvent, time: number | undefined, order: number): void {
    const facts = this.facts;
    const last = facts.lastRunEvent[event.side];
    const at = time ?? Number.NaN;
    // Without times (hand-written logs), reading order decides.
    const isLater = last === undefined || (Number.isFinite(at) && Number.isFinite(last.time) && at !== last.time ? at > last.time : order > last.order);
    if (isLater) facts.lastRunEvent[event.side] = { kind: event.event, reason: event.reason, time: at, order };
    facts.scope ??= event.scope;
    facts.dataset ??= event.dataset;
    if (event.event === 'run_started' && event.side === 'upload') {
      if (event.scheduled !== undefined) facts.scheduled = Math.max(facts.scheduled ?? 0, event.scheduled);
      if (event.t0 !== undefined) facts.t0 = Math.min(facts.t0 ?? Number.POSITIVE_INFINITY, event.t0);
      facts.periodMs ??= event.period_ms;
    }
    if (event.event === 'run_finished' && event.counts) {
      facts.writerCounts.push({ side: event.side, counts: event.counts, reason: event.reason });
    }
  }

  get size(): number {
    return this.count;
  }

  /**
   * Whether the writers ran to the end and, if not, when the downloader stopped and how long before
   * that an upload may be and still count as in flight.
   */
  private completion(chunks: readonly ChunkState[], haveDownloadLog: boolean): Completion {
    const upload = endingOf(this.facts.lastRunEvent.upload);
    const download = endingOf(this.facts.lastRunEvent.download);
    const state = upload === 'interrupted' || download === 'interrupted' ? 'interrupted' : upload === 'unfinished' || download === 'unfinished' ? 'unfinished' : 'complete';
    const last = this.facts.lastRunEvent.download;
    const finishedAt = last?.kind === 'run_finished' && Number.isFinite(last.time) ? last.time : Number.NaN;
    const stoppedAt = Number.isFinite(finishedAt) ? finishedAt : this.facts.lastDownloadEventTime;
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
   * `haveDownloadLog` whether a chunk can be in flight to a downloader.
   */
  finish(haveUploadLog: boolean, haveDownloadLog: boolean): LedgerResult {
    const chunks = [...this.runs.values()].flatMap((known) => [...known.chunks.values()]).sort(compareChunks);
    const completion = this.completion(chunks, haveDownloadLog);
    const inFlightFrom =
      completion.downloadStoppedAt !== undefined && completion.graceMs !== undefined ? completion.downloadStoppedAt - completion.graceMs : Number.POSITIVE_INFINITY;
    const lists: IntegrityLists = {
      missing: [],
      inFlight: [],
      corrupted: [],
      recovered: [],
      failedUploads: [],
      downloadFailures: [],
      skipped: [],
      late: [],
      duplicateUploads: [],
      duplicateVerifications: [],
      notInUploadLog: [],
      unaccountedSeqs: [],
    };
    const skippedByReason: Record<string, number> = {};
    const listing: ChunkListingEntry[] = [];
    const runs = new Set<string>();
    let uploaded = 0;
    let downloaded = 0;
    let verified = 0;
    let corruptedDetections = 0;
    let highestSeq = -1;
    for (const chunk of chunks) {
      runs.add(chunk.run);
      highestSeq = Math.max(highestSeq, chunk.seq);
      if (chunk.uploads > 0) uploaded++;
      if (chunk.verifications + chunk.corruptions > 0) downloaded++;
      if (chunk.delivered) verified++;
      corruptedDetections += chunk.corruptions;
      if (chunk.uploads > 1) lists.duplicateUploads.push(chunk.name);
      if (chunk.verifications > 1) lists.duplicateVerifications.push(chunk.name);
      if (chunk.late) lists.late.push(chunk.name);
      if (chunk.corruptions > 0 && chunk.delivered) lists.recovered.push(chunk.name);
      if (chunk.uploadFailedForGood) {
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
      const inFlight = chunk.uploads > 0 && chunk.lastDownload === DownloadState.none && chunk.uploadTime >= inFlightFrom;
      const entry = this.classify(chunk, notInUploadLog, inFlight);
      if (entry) {
        listing.push(entry);
        if (entry.status === '*') lists.corrupted.push(chunk.name);
        if (entry.status === '-') lists.missing.push(chunk.name);
        if (entry.status === '~') lists.inFlight.push(chunk.name);
      }
    }

    const scheduledFromRun = this.facts.scheduled;
    const scheduled = scheduledFromRun ?? highestSeq + 1;
    const warnings: string[] = [];
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
    if (runs.size > 1) warnings.push(`the logs mix runs ${[...runs].join(', ')}; chunks are joined by run and name`);

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
      corruptedDetections,
      corrupted: lists.corrupted.length,
      recovered: lists.recovered.length,
      missing: lists.missing.length,
      inFlight: lists.inFlight.length,
      downloadFailures: lists.downloadFailures.length,
      duplicateUploads: lists.duplicateUploads.length,
      duplicateVerifications: lists.duplicateVerifications.length,
      notInUploadLog: lists.notInUploadLog.length,
      unaccounted: lists.unaccountedSeqs.length,
    };
    return { completion, integrity, lists, listing, samples: samplesOf(chunks), recordRuns: [...runs], warnings };
  }

  /** The rclone-`check --combined`-like status; undefined for a chunk deliberately skipped. */
  private classify(chunk: ChunkState, notInUploadLog: boolean, inFlight: boolean): ChunkListingEntry | undefined {
    const base = { name: chunk.name, seq: chunk.seq, run: chunk.run };
    if (chunk.lastDownload === DownloadState.corrupted) {
      return { ...base, status: '*', detail: `corrupted in ${chunk.corruptions} download(s)${chunk.verifications > 0 ? ' (also verified once, then corrupted)' : ''}` };
    }
    if (chunk.uploadFailedForGood) {
      return { ...base, status: '!', detail: chunk.delivered ? 'upload logged as failed, yet verified downstream' : 'upload failed' };
    }
    if (chunk.delivered) {
      const detail = chunk.corruptions > 0 ? `recovered after ${chunk.corruptions} corrupted download(s)` : undefined;
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
  if (last.kind === 'run_started') return 'unfinished';
  return last.reason === 'interrupted' ? 'interrupted' : 'finished';
}

/** By run, then seq, then name: the order of the listing. */
function compareChunks(a: ChunkState, b: ChunkState): number {
  if (a.run !== b.run) return a.run < b.run ? -1 : 1;
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
