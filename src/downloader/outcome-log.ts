import { definedProps } from '../common/defined.js';
import { errorMessage } from '../common/errors.js';
import type { EventLog } from '../common/event-log.js';
import { didOf, type DownloadChunkEvent } from '../common/log-records.js';
import type { Output } from '../common/output.js';
import type { CorruptedOutcome, CorruptReadRecord, DownloadJob, InvalidOutcome, VerifiedOutcome } from './download-job.js';

/** The chunk an outcome is about, as the coordinator knows it. */
export interface OutcomeContext {
  job: DownloadJob;
  tDetected: number;
  /** Reads of this chunk so far, this one included (corrupted reads and transient failures). */
  attempts: number;
}

/** What the catalog says a file is: what a corrupted read is compared with. */
export interface ExpectedContent {
  adler32?: string;
  md5?: string;
  bytes: number;
}

/** A presigned URL is a credential until it expires: log where, not the signature. */
function unsigned(pfn: string | undefined): string | undefined {
  return pfn?.split('?')[0];
}

/**
 * Writes the download log's line for each outcome (`verified`, `corrupted` once per bad read,
 * `invalid`, `failed`: the lines the report counts) and tells the user about the bad ones on stderr.
 * Every line names the DID; `run` and `seq` are the chunk's own (read from its attributes), never a
 * guess, so a line about bytes that were not decoded has none and the report joins it by DID.
 */
export class OutcomeLog {
  constructor(
    private readonly log: EventLog,
    private readonly output: Output,
  ) {}

  verified(context: OutcomeContext, outcome: VerifiedOutcome): void {
    this.log.write({
      ...this.fileFields(context),
      ...definedProps({ run: outcome.run, seq: outcome.seq, t_avail: outcome.tAvail, foreign: outcome.foreign }),
      ...this.readFields(outcome),
      t_downloaded: outcome.tDownloaded,
      event: 'verified',
      adler32: outcome.adler32,
      md5: outcome.md5,
      t_verified: outcome.tVerified,
    } satisfies DownloadChunkEvent);
    if (outcome.foreign === true) this.output.warn(`foreign file: ${context.job.name} is not a wavefier chunk; its bytes match the catalog, so it is kept as verified`);
  }

  /**
   * One read whose bytes differ from the catalog, with both checksums and the read's number among
   * this chunk's reads; whether the chunk is read again is the coordinator's decision.
   */
  corruptedRead(context: OutcomeContext, read: CorruptReadRecord, attempt: number, expected: ExpectedContent): void {
    const sums = `adler32 ${read.adler32} md5 ${read.md5} (${read.bytes} bytes)`;
    const catalog = `adler32 ${expected.adler32 ?? '-'} md5 ${expected.md5 ?? '-'} (${expected.bytes} bytes)`;
    this.log.write({
      ...this.fileFields(context),
      event: 'corrupted',
      bytes: read.bytes,
      adler32: read.adler32,
      md5: read.md5,
      ...definedProps({ expected_adler32: expected.adler32, expected_md5: expected.md5, pfn: unsigned(read.pfn) }),
      expected_bytes: expected.bytes,
      rse: read.rse,
      t_downloaded: read.tRead,
      attempt,
      error: `read ${attempt} from ${read.rse} gave ${sums}; the catalog says ${catalog}`,
    } satisfies DownloadChunkEvent);
  }

  /** A round of reads that were all corrupted (its reads were logged one by one). */
  corruptedRound(context: OutcomeContext, outcome: CorruptedOutcome, retrying: boolean): void {
    this.output.warn(`corrupted: ${context.job.name} (${outcome.reason})${retrying ? '; reading it again later' : '; given up'}`);
  }

  /** Bytes that match the catalog but are not a valid chunk: a content error, final. */
  invalid(context: OutcomeContext, outcome: InvalidOutcome): void {
    this.log.write({
      ...this.fileFields(context),
      ...definedProps({ run: outcome.run, seq: outcome.seq, t_avail: outcome.tAvail }),
      ...this.readFields(outcome),
      t_downloaded: outcome.tDownloaded,
      event: 'invalid',
      adler32: outcome.adler32,
      md5: outcome.md5,
      error: outcome.reason,
    } satisfies DownloadChunkEvent);
    this.output.warn(`invalid: ${context.job.name} (${outcome.reason})`);
  }

  /** A transient failure BullMQ will retry: a diagnostic line only. */
  retrying(name: string, attempt: number, error: Error): void {
    this.log.diagnostic('info', 'download attempt failed; retrying', { name, attempt, error: error.message });
  }

  /** The chunk's last attempt failed, or it was refused before any read: it is given up on. */
  failed(context: OutcomeContext, attemptsMade: number, error: Error): void {
    const { job } = context;
    this.log.write({ ...this.fileFields(context), event: 'failed', error: error.message } satisfies DownloadChunkEvent);
    this.output.warn(attemptsMade > 0 ? `failed: ${job.name} after ${attemptsMade} attempts (${error.message})` : `failed: ${job.name} (${error.message})`);
  }

  /** A corrupted chunk could not be queued for another read. */
  retryNotQueued(name: string, error: unknown): void {
    this.log.diagnostic('error', 'could not re-enqueue a corrupted chunk', { name, error: errorMessage(error) });
  }

  private fileFields(context: OutcomeContext) {
    const { job } = context;
    // The file's own scope: a dataset may hold files of other scopes than its own.
    return {
      name: job.name,
      scope: job.replica.scope,
      dataset: job.dataset,
      did: didOf(job.replica.scope, job.name),
      t_detected: context.tDetected,
      attempts: context.attempts,
    };
  }

  private readFields(outcome: VerifiedOutcome | InvalidOutcome) {
    return definedProps({ bytes: outcome.bytes, rse: outcome.rse, pfn: unsigned(outcome.pfn) });
  }
}
