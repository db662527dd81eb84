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

export const downloadStatuses = ['verified', 'corrupted', 'failed'] as const;

/** One line of `download.jsonl` about one chunk. */
export const downloadChunkEventSchema = z.object({
  event: z.enum(downloadStatuses),
  ...chunkIdentity,
  /** From the chunk's own metadata; absent when the bytes could not be decoded. */
  seq: z.number().int().nonnegative().optional(),
  bytes: z.number().int().nonnegative().optional(),
  adler32: hex8.optional(),
  md5: hex32.optional(),
  /** What the catalog says, when the downloaded bytes differ. */
  expected_adler32: hex8.optional(),
  expected_md5: hex32.optional(),
  rse: z.string().optional(),
  pfn: z.string().optional(),
  t_avail: epochMs.optional(),
  t_detected: epochMs.optional(),
  t_downloaded: epochMs.optional(),
  t_verified: epochMs.optional(),
  attempts: z.number().int().nonnegative().optional(),
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
