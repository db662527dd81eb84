import type { DownloadChunkEvent } from '../common/log-records.js';

export const DownloadState = { none: 0, verified: 1, corrupted: 2, failed: 3, invalid: 4 } as const;
export type DownloadState = (typeof DownloadState)[keyof typeof DownloadState];

/**
 * What the logs say about one chunk, kept to a few numbers so that a soak of a million chunks stays
 * small. Latency times come from the first successful event of each side; the download's final
 * state from its last event (by event time, then by reading order).
 */
export class ChunkState {
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

export function eventTime(event: DownloadChunkEvent): number {
  return event.t_verified ?? event.t_downloaded ?? event.t_detected ?? Number.NaN;
}

/** By run, then seq, then name: the order of the listing. */
export function compareChunks(a: ChunkState, b: ChunkState): number {
  const runA = a.run ?? '';
  const runB = b.run ?? '';
  if (runA !== runB) return runA < runB ? -1 : 1;
  if (a.seq !== b.seq) return a.seq - b.seq;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
