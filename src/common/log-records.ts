import { z } from 'zod';

/**
 * The JSON-lines formats that `upload`, `download` and `report` share (DESIGN §3). Writers emit
 * these fields with pino (which adds `level`, `time`, `pid`, `hostname`, `msg`); the report parses
 * each line with these schemas and reports lines that do not match instead of guessing.
 *
 * All `t_*` fields are epoch milliseconds (fractional allowed) on an NTP-synchronised clock:
 * - t_avail: the chunk's data is complete (its scheduled emission time in a paced replay)
 * - t_enqueued: the job entered the queue; pacing error = t_enqueued - t_avail
 * - t_started: an upload worker started on it
 * - t_uploaded: object stored, replica registered and attached (visible to a consumer)
 * - t_detected: the consumer's poll first saw it
 * - t_downloaded: bytes fully received
 * - t_verified: checksums and metadata checked; total latency = t_verified - t_avail
 */

const hex8 = z.string().regex(/^[0-9a-f]{8}$/);
const hex32 = z.string().regex(/^[0-9a-f]{32}$/);
const epochMs = z.number().nonnegative();

const chunkIdentity = {
  run: z.string().min(1),
  seq: z.number().int().nonnegative(),
  name: z.string().min(1),
  scope: z.string().min(1).optional(),
  dataset: z.string().min(1).optional(),
};

export const uploadEventKinds = ['uploaded', 'failed', 'skipped', 'retry'] as const;

/** One line of `upload.jsonl` about one chunk. */
export const uploadChunkEventSchema = z.object({
  event: z.enum(uploadEventKinds),
  ...chunkIdentity,
  /** GPS start of the chunk on the rehearsal's own timeline. */
  gps: z.number().int().optional(),
  bytes: z.number().int().nonnegative().optional(),
  adler32: hex8.optional(),
  md5: hex32.optional(),
  rse: z.string().optional(),
  t_avail: epochMs,
  t_enqueued: epochMs.optional(),
  t_started: epochMs.optional(),
  t_uploaded: epochMs.optional(),
  attempts: z.number().int().nonnegative().optional(),
  /** True when the pacer emitted this chunk after its due time plus the lateness tolerance. */
  late: z.boolean().optional(),
  /** Why a chunk was skipped: 'gap' (NaN samples), 'late' (--late skip). */
  reason: z.string().optional(),
  error: z.string().optional(),
});
export type UploadChunkEvent = z.infer<typeof uploadChunkEventSchema>;

/**
 * What a download line says about a chunk: `verified` (the bytes match the catalog and are the chunk
 * they claim to be, or, with `foreign`, a file that is not a wavefier chunk but matches the
 * catalog), `corrupted` (one read whose bytes differ from the catalog's checksums: one line per bad
 * read), `invalid` (the bytes match the catalog but are not a valid chunk: a content error, not
 * retried), `failed` (given up on: transient failures exhausted, or refused before any read).
 */
export const downloadStatuses = ['verified', 'corrupted', 'invalid', 'failed'] as const;

/** `scope:name`, the DID every download line names. */
export function didOf(scope: string, name: string): string {
  return `${scope}:${name}`;
}

/** One line of `download.jsonl` about one file of the dataset. */
export const downloadChunkEventSchema = z.object({
  event: z.enum(downloadStatuses),
  /**
   * The chunk's identity as the chunk itself says (its HDF5 attributes `wavefier_run_id` and
   * `wavefier_seq`): the upload run and sequence number. Absent when the bytes were not decoded
   * (a corrupted read, a failure, a foreign file). The report joins on it, else on the DID.
   */
  run: z.string().min(1).optional(),
  seq: z.number().int().nonnegative().optional(),
  name: z.string().min(1),
  scope: z.string().min(1).optional(),
  dataset: z.string().min(1).optional(),
  did: z.string().min(1).optional(),
  /** verified only: the file is not a wavefier chunk, but its bytes match the catalog. */
  foreign: z.boolean().optional(),
  bytes: z.number().int().nonnegative().optional(),
  /** Of the bytes read. */
  adler32: hex8.optional(),
  md5: hex32.optional(),
  /** What the catalog says (corrupted lines). */
  expected_adler32: hex8.optional(),
  expected_md5: hex32.optional(),
  expected_bytes: z.number().int().nonnegative().optional(),
  rse: z.string().optional(),
  pfn: z.string().optional(),
  t_avail: epochMs.optional(),
  t_detected: epochMs.optional(),
  t_downloaded: epochMs.optional(),
  t_verified: epochMs.optional(),
  /** Reads of this file so far, this one included. */
  attempts: z.number().int().nonnegative().optional(),
  /** corrupted: which read of the file this was (1 = the first). */
  attempt: z.number().int().positive().optional(),
  error: z.string().optional(),
});
export type DownloadChunkEvent = z.infer<typeof downloadChunkEventSchema>;

/**
 * First and last lines of each log: what the run intended and what it ended with; between them
 * `ready`, when the side had finished starting (the downloader: first poll answered and workers
 * connected; the uploader: its schedule fixed, t0 set).
 */
export const runEventSchema = z.object({
  event: z.enum(['run_started', 'ready', 'run_finished']),
  run: z.string().min(1),
  side: z.enum(['upload', 'download']),
  scope: z.string().optional(),
  dataset: z.string().optional(),
  /** Upload side: number of chunks the run was asked to schedule (absent when open-ended). */
  scheduled: z.number().int().nonnegative().optional(),
  period_ms: z.number().positive().optional(),
  t0: epochMs.optional(),
  /** Free-form settings for the record (source, rate factor, poll mode...). */
  settings: z.record(z.string(), z.unknown()).optional(),
  /** run_finished: counts as the writer saw them. */
  counts: z.record(z.string(), z.number()).optional(),
  reason: z.string().optional(),
});
export type RunEvent = z.infer<typeof runEventSchema>;

export const uploadLogFile = 'upload.jsonl';
export const downloadLogFile = 'download.jsonl';
