import { definedProps } from '../common/defined.js';
import { errorMessage } from '../common/errors.js';
import type { EventLog } from '../common/event-log.js';
import { didOf, type DownloadChunkEvent } from '../common/log-records.js';
import type { Output } from '../common/output.js';
import type { ChunkOutcome, CorruptedOutcome, DownloadJob, VerifiedOutcome } from './download-job.js';

/** The chunk an outcome is about, as the coordinator knows it. */
export interface OutcomeContext {
  job: DownloadJob;
  tDetected: number;
  /** Reads of this chunk so far, this one included (corrupted reads and transient failures). */
  attempts: number;
}

/**
 * Writes the download log's line for each chunk outcome (`verified`, `corrupted`, `failed`, the
 * lines the report counts) and tells the user about the bad ones on stderr. Every line names the
 * DID; `run` and `seq` are the chunk's own (read from its attributes), never a guess, so a line about
 * bytes that were not decoded has none and the report joins it by DID.
 */
export class OutcomeLog {
  constructor(
    private readonly log: EventLog,
    private readonly output: Output,
  ) {}

  verified(context: OutcomeContext, outcome: VerifiedOutcome): void {
    this.log.write({
      ...this.chunkFields(context, outcome),
      event: 'verified',
      adler32: outcome.adler32,
      md5: outcome.md5,
      t_verified: outcome.tVerified,
    } satisfies DownloadChunkEvent);
  }

  /** One corrupted read; whether the chunk is read again is the coordinator's decision. */
  corrupted(context: OutcomeContext, outcome: CorruptedOutcome): void {
    this.log.write({
      ...this.chunkFields(context, outcome),
      event: 'corrupted',
      ...definedProps({
        adler32: outcome.adler32,
        md5: outcome.md5,
        expected_adler32: outcome.expectedAdler32,
        expected_md5: outcome.expectedMd5,
      }),
      error: outcome.reason,
    } satisfies DownloadChunkEvent);
    this.output.warn(`corrupted: ${context.job.name} (${outcome.reason})`);
  }

  /** A transient failure BullMQ will retry: a diagnostic line only. */
  retrying(name: string, attempt: number, error: Error): void {
    this.log.diagnostic('info', 'download attempt failed; retrying', { name, attempt, error: error.message });
  }

  /** The chunk's last attempt failed: it is given up on. */
  failed(context: OutcomeContext, attemptsMade: number, error: Error): void {
    const { job } = context;
    this.log.write({
      event: 'failed',
      name: job.name,
      scope: job.scope,
      dataset: job.dataset,
      did: didOf(job.scope, job.name),
      t_detected: context.tDetected,
      attempts: context.attempts,
      error: error.message,
    } satisfies DownloadChunkEvent);
    this.output.warn(`failed: ${job.name} after ${attemptsMade} attempts (${error.message})`);
  }

  /** A corrupted chunk could not be queued for another read. */
  retryNotQueued(name: string, error: unknown): void {
    this.log.diagnostic('error', 'could not re-enqueue a corrupted chunk', { name, error: errorMessage(error) });
  }

  private chunkFields(context: OutcomeContext, outcome: ChunkOutcome) {
    const { job } = context;
    return definedProps({
      run: outcome.run,
      seq: outcome.seq,
      name: job.name,
      scope: job.scope,
      dataset: job.dataset,
      did: didOf(job.scope, job.name),
      bytes: outcome.bytes,
      t_avail: outcome.tAvail,
      t_detected: context.tDetected,
      t_downloaded: outcome.tDownloaded,
      attempts: context.attempts,
      rse: outcome.rse,
      // A presigned URL is a credential until it expires: log where, not the signature.
      pfn: outcome.pfn?.split('?')[0],
    });
  }
}
