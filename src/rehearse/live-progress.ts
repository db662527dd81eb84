import * as hdr from 'hdr-histogram-js';
import type { DownloadChunkEvent, RunEvent, UploadChunkEvent } from '../common/log-records.js';
import { definedProps } from '../common/defined.js';
import { ChunkLedger } from '../report/chunk-ledger.js';
import { classifyLogLine } from '../report/log-reader.js';
import { LogTail } from './log-tail.js';

/** One side's figures at a moment, as the live view shows them. */
export interface SideProgress {
  /** Chunks per second over the last `rateWindowMs`. */
  rate: number;
  /** Latency so far (upload: t_uploaded - t_avail; download: total, t_verified - t_avail), ms. */
  p50Ms?: number;
  p99Ms?: number;
}

export interface ProgressSnapshot {
  at: number;
  /** When chunk 0 was due (the upload's run_started), once known. */
  t0?: number;
  /** Chunks due so far by the schedule (paced), or that have an upload outcome (unpaced). */
  produced: number;
  scheduled: number;
  uploaded: number;
  failed: number;
  skipped: number;
  /** Produced, no upload outcome yet: in the queue or being uploaded. */
  uploadQueue: number;
  verified: number;
  corrupted: number;
  missing: number;
  /** Uploaded, not yet read (the report's in flight): waiting for the downloader or being verified. */
  downloadQueue: number;
  upload: SideProgress;
  download: SideProgress;
  /** Until the last chunk is verified, when it can be told. */
  etaMs?: number;
  /** Both logs say run_finished. */
  finished: boolean;
}

/** Rates are measured over this window. */
const rateWindowMs = 10_000;

/** Latencies are recorded in whole microseconds, from 1 µs to an hour (beyond, the histogram grows). */
function latencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

function percentileMs(histogram: hdr.Histogram, percentile: number): number | undefined {
  return histogram.totalCount === 0 ? undefined : histogram.getValueAtPercentile(percentile) / 1000;
}

/**
 * The progress of a rehearsal read from its two logs while they are written: every count comes from
 * the report's own ChunkLedger (the same definitions of uploaded, verified, corrupted and missing as
 * the final report), and the latency percentiles from HDR histograms fed line by line, so that a tick
 * costs the same at chunk 100 and at chunk 14,400.
 */
export class LiveProgress {
  private readonly ledger: ChunkLedger;
  private readonly uploadLog: LogTail;
  private readonly downloadLog: LogTail;
  private readonly uploadLatency = latencyHistogram();
  private readonly totalLatency = latencyHistogram();
  private order = 0;
  private t0: number | undefined;
  private intervalMs: number | undefined;
  private readonly finishedSides = new Set<string>();
  /**
   * Download lines of chunks whose upload line is not written yet: the downloader can verify a chunk
   * before the uploader's log says it was uploaded, and counting it then would show more verified
   * than uploaded. They are counted once their upload line comes, or once the upload has finished.
   */
  private readonly heldBack = new Map<string, DownloadChunkEvent[]>();
  /** (time, uploaded, verified) samples for the rates. */
  private readonly history: { at: number; uploaded: number; verified: number }[] = [];

  constructor(
    readonly run: string,
    files: { upload: string; download: string },
    private readonly schedule: { scheduled: number; intervalMs: number },
    private readonly now: () => number = Date.now,
  ) {
    this.ledger = new ChunkLedger(run);
    this.uploadLog = new LogTail(files.upload);
    this.downloadLog = new LogTail(files.download);
  }

  /** Reads what the logs gained since the last call and returns the figures now. */
  async poll(): Promise<ProgressSnapshot> {
    for (const line of await this.uploadLog.read()) this.take('upload', line);
    for (const line of await this.downloadLog.read()) this.take('download', line);
    return this.snapshot();
  }

  private take(side: 'upload' | 'download', text: string): void {
    // The report's reading of a line; a line it would call malformed is skipped here (the final report lists it).
    const line = classifyLogLine(side, text);
    if (line.kind === 'upload') this.upload(line.event);
    else if (line.kind === 'download') this.download(line.event);
    else if (line.kind === 'run') this.runEvent(line.event, line.time);
  }

  private runEvent(event: RunEvent, time: number | undefined): void {
    // `ready` (start-up timing) is for the report's header, not for the live figures (the report's ledger skips it too).
    if (event.event === 'ready') return;
    this.ledger.runEvent(event, time, this.order++);
    if (event.event === 'run_started' && event.side === 'upload') {
      this.t0 = event.t0;
      const interval = event.settings?.interval_ms;
      if (typeof interval === 'number') this.intervalMs = interval;
    }
    if (event.event === 'run_finished') {
      this.finishedSides.add(event.side);
      if (event.side === 'upload') this.releaseAll();
    }
  }

  private upload(event: UploadChunkEvent): void {
    this.ledger.uploadChunk(event);
    if (event.event === 'uploaded' && event.t_uploaded !== undefined) record(this.uploadLatency, event.t_uploaded - event.t_avail);
    if (event.event !== 'retry') {
      const held = this.heldBack.get(event.name);
      this.heldBack.delete(event.name);
      for (const waiting of held ?? []) this.count(waiting);
    }
  }

  private download(event: DownloadChunkEvent): void {
    // The ledger's own state of the chunk says whether its upload line came: no set of names beside it.
    if (event.foreign === true || this.finishedSides.has('upload') || this.ledger.hasUploadOutcome(event.name)) {
      this.count(event);
      return;
    }
    const held = this.heldBack.get(event.name);
    if (held === undefined) this.heldBack.set(event.name, [event]);
    else held.push(event);
  }

  private releaseAll(): void {
    const held = [...this.heldBack.values()].flat();
    this.heldBack.clear();
    for (const event of held) this.count(event);
  }

  private count(event: DownloadChunkEvent): void {
    this.ledger.downloadChunk(event, this.order++);
    if (event.event === 'verified' && event.foreign !== true && event.t_avail !== undefined && event.t_verified !== undefined) {
      record(this.totalLatency, event.t_verified - event.t_avail);
    }
  }

  private snapshot(): ProgressSnapshot {
    const at = this.now();
    const finished = this.finishedSides.has('upload') && this.finishedSides.has('download');
    // While the run goes on, the report's definitions as if it stopped now: an uploaded chunk not
    // yet verified is in flight (the download queue) within the report's grace, missing after it.
    const { integrity } = this.ledger.finish(true, true, finished ? undefined : at, true);
    const scheduled = this.schedule.scheduled;
    const outcomes = integrity.uploaded + integrity.failedUploads + integrity.skipped;
    const intervalMs = this.intervalMs ?? this.schedule.intervalMs;
    const due = this.t0 !== undefined && intervalMs > 0 ? Math.min(scheduled, Math.max(0, Math.floor((at - this.t0) / intervalMs) + 1)) : 0;
    const produced = Math.max(due, outcomes);
    this.history.push({ at, uploaded: integrity.uploaded, verified: integrity.verified });
    while (this.history.length > 2 && (this.history[0]?.at ?? at) < at - rateWindowMs) this.history.shift();
    const first = this.history[0];
    const span = first === undefined ? 0 : (at - first.at) / 1000;
    const rate = (now: number, then: number | undefined): number => (span > 0 && then !== undefined ? (now - then) / span : 0);
    const downloadRate = rate(integrity.verified, first?.verified);
    return {
      at,
      ...definedProps({ t0: this.t0 }),
      produced,
      scheduled,
      uploaded: integrity.uploaded,
      failed: integrity.failedUploads,
      skipped: integrity.skipped,
      uploadQueue: Math.max(0, produced - outcomes),
      verified: integrity.verified,
      corrupted: integrity.corrupted + integrity.invalid,
      missing: integrity.missing,
      downloadQueue: integrity.inFlight,
      upload: { rate: rate(integrity.uploaded, first?.uploaded), ...definedPercentiles(this.uploadLatency) },
      download: { rate: downloadRate, ...definedPercentiles(this.totalLatency) },
      ...etaOf({ at, scheduled, verified: integrity.verified, skipped: integrity.skipped, failed: integrity.failedUploads, t0: this.t0, intervalMs, downloadRate, totalP50: percentileMs(this.totalLatency, 50) }),
      finished,
    };
  }
}

function record(histogram: hdr.Histogram, latencyMs: number): void {
  if (Number.isFinite(latencyMs)) histogram.recordValue(Math.max(0, Math.round(latencyMs * 1000)));
}

function definedPercentiles(histogram: hdr.Histogram): { p50Ms?: number; p99Ms?: number } {
  const p50Ms = percentileMs(histogram, 50);
  const p99Ms = percentileMs(histogram, 99);
  return p50Ms === undefined || p99Ms === undefined ? {} : { p50Ms, p99Ms };
}

/**
 * Time until the last chunk is verified: a paced run's schedule ends at t0 + scheduled × interval,
 * and its last chunk arrives about a median total latency later; an unpaced one at the download rate.
 */
function etaOf(state: {
  at: number;
  scheduled: number;
  verified: number;
  skipped: number;
  failed: number;
  t0: number | undefined;
  intervalMs: number;
  downloadRate: number;
  totalP50: number | undefined;
}): { etaMs?: number } {
  const left = state.scheduled - state.verified - state.skipped - state.failed;
  if (left <= 0) return { etaMs: 0 };
  if (state.t0 !== undefined && state.intervalMs > 0) {
    return { etaMs: Math.max(0, state.t0 + (state.scheduled - 1) * state.intervalMs + (state.totalP50 ?? 0) - state.at) };
  }
  return state.downloadRate > 0 ? { etaMs: left / (state.downloadRate / 1000) } : {};
}
