import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DownloadChunkEvent, RunEvent, UploadChunkEvent } from '../common/log-records.js';

/**
 * Writes upload/download logs of a made-up run in exactly the format the uploader and downloader
 * write (pino JSON lines: level, time, pid, hostname, the event fields, msg), with chosen faults.
 * For tests and benchmarks of the report; the report itself never calls it.
 */
export interface SyntheticRunOptions {
  /** The log dir; files go to `<logDir>/<run>/`. */
  logDir: string;
  run: string;
  chunks: number;
  t0?: number;
  periodMs?: number;
  /** Write `run_started.scheduled` (default true). */
  announceScheduled?: boolean;
  /** Upload latency of chunk `seq` in ms (default: deterministic noise around 1.9 s). */
  uploadLatencyMs?: (seq: number) => number;
  /** Detection + download + verification after upload, in ms (default: noise around 6.3 s). */
  downstreamMs?: (seq: number) => number;
  pacingErrorMs?: (seq: number) => number;
  /** Uploaded, never downloaded. */
  missing?: readonly number[];
  /** Downloaded corrupted, never verified. */
  corrupted?: readonly number[];
  /** Downloaded corrupted once, then verified from a good replica. */
  recovered?: readonly number[];
  failedUploads?: readonly number[];
  skipped?: readonly { seq: number; reason: string }[];
  late?: readonly number[];
  /** Uploaded twice successfully (a retried job whose first attempt had in fact succeeded). */
  duplicateUploads?: readonly number[];
  /** Split the upload lines across this many files (`upload.jsonl`, `upload-host2.jsonl`...) as several hosts would. */
  uploadHosts?: number;
  /** Leave the download log out (an upload-only run). */
  withoutDownloadLog?: boolean;
  withoutUploadLog?: boolean;
  /** Add a diagnostic line and an unknown event every this many chunks (0: none). */
  noiseEvery?: number;
  /**
   * Stop the run as Ctrl-C would after this many chunks: both writers end with run_finished reason
   * 'interrupted' (run_started still schedules `chunks`).
   */
  interruptAfter?: number;
  /**
   * With interruptAfter: the downloader stops this long after the last upload (default 20 s);
   * chunks it would have verified later are left out of the download log (in flight at the stop).
   */
  downloadStopsAfterMs?: number;
  /** Leave out run_finished on this side (a killed writer, or one still running). */
  unfinished?: 'upload' | 'download';
  /** Cut the last upload line in half, as a killed writer leaves it. */
  truncateLastUploadLine?: boolean;
  scope?: string;
  dataset?: string;
}

export interface SyntheticRunFiles {
  runDir: string;
  uploadFiles: string[];
  downloadFile: string | undefined;
}

/** Small deterministic PRNG (mulberry32), so fixtures are reproducible byte for byte. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pinoLine(time: number, hostname: string, fields: object, msg: string): string {
  return `${JSON.stringify({ level: 30, time: Math.round(time), pid: 4242, hostname, ...fields, msg })}\n`;
}

function hex(value: number, digits: number): string {
  return (value >>> 0).toString(16).padStart(8, '0').slice(-digits);
}

export async function writeSyntheticRun(options: SyntheticRunOptions): Promise<SyntheticRunFiles> {
  const { run, chunks } = options;
  const t0 = options.t0 ?? Date.UTC(2026, 10, 26, 12, 0, 0);
  const period = options.periodMs ?? 1000;
  const scope = options.scope ?? 'user.wavefier';
  const dataset = options.dataset ?? `rehearsal-${run}`;
  const rand = random(chunks * 31 + run.length);
  const uploadLatency = options.uploadLatencyMs ?? (() => 1400 + rand() * 500 + rand() * rand() * 900);
  const downstream = options.downstreamMs ?? (() => 5000 + rand() * 2600);
  const pacing = options.pacingErrorMs ?? (() => rand() * 3);
  const set = (values: readonly number[] | undefined): Set<number> => new Set(values ?? []);
  const missing = set(options.missing);
  const corrupted = set(options.corrupted);
  const recovered = set(options.recovered);
  const failed = set(options.failedUploads);
  const late = set(options.late);
  const duplicates = set(options.duplicateUploads);
  const skipped = new Map((options.skipped ?? []).map((entry) => [entry.seq, entry.reason]));
  const hosts = Math.max(1, options.uploadHosts ?? 1);
  const noiseEvery = options.noiseEvery ?? 0;

  const runDir = join(options.logDir, run);
  await mkdir(runDir, { recursive: true });
  const uploads: string[][] = Array.from({ length: hosts }, () => []);
  const downloads: string[] = [];
  const host = (index: number): string => (index === 0 ? 'ego-upload' : `ego-upload-${index + 1}`);

  const started: RunEvent = {
    event: 'run_started',
    run,
    side: 'upload',
    scope,
    dataset,
    t0,
    period_ms: period,
    ...(options.announceScheduled === false ? {} : { scheduled: chunks }),
    settings: { source: 'synthetic' },
  };
  uploads[0]?.push(pinoLine(t0 - 5, host(0), started, 'run started'));
  downloads.push(pinoLine(t0 - 3, 'cnaf-download', { event: 'run_started', run, side: 'download', scope, dataset } satisfies RunEvent, 'run started'));

  let lastAvail = t0;
  let lastUploaded = t0;
  const produced = Math.min(chunks, options.interruptAfter ?? chunks);
  const pendingDownloads: { tVerified: number; line: string }[] = [];
  for (let seq = 0; seq < produced; seq++) {
    const tAvail = t0 + seq * period;
    lastAvail = tAvail;
    const gps = 1_400_000_000 + seq;
    const name = `V-V1_WAVEFIER-${gps}-1.hdf5`;
    const identity = { run, seq, name, scope, dataset };
    const lines = uploads[seq % hosts] ?? [];
    if (noiseEvery > 0 && seq % noiseEvery === 0) {
      lines.push(pinoLine(tAvail, host(seq % hosts), { queue: 'upload', waiting: 1 }, 'queue depth'));
      lines.push(pinoLine(tAvail, host(seq % hosts), { event: 'heartbeat', run }, 'alive'));
    }
    const skipReason = skipped.get(seq);
    if (skipReason !== undefined) {
      const event: UploadChunkEvent = { event: 'skipped', ...identity, gps, t_avail: tAvail, reason: skipReason };
      lines.push(pinoLine(tAvail, host(seq % hosts), event, 'chunk skipped'));
      continue;
    }
    const tEnqueued = tAvail + pacing(seq);
    const tStarted = tEnqueued + 2;
    if (failed.has(seq)) {
      const retry: UploadChunkEvent = { event: 'retry', ...identity, gps, t_avail: tAvail, t_enqueued: tEnqueued, attempts: 1, error: 'storage PUT: 503 Slow Down' };
      const fail: UploadChunkEvent = { ...retry, event: 'failed', attempts: 5, error: 'storage PUT: 503 Slow Down (5 attempts)' };
      lines.push(pinoLine(tStarted + 100, host(seq % hosts), retry, 'retrying'));
      lines.push(pinoLine(tStarted + 900, host(seq % hosts), fail, 'upload failed'));
      continue;
    }
    const tUploaded = tAvail + uploadLatency(seq);
    lastUploaded = Math.max(lastUploaded, tUploaded);
    const bytes = 33_000 + (seq % 97);
    const adler32 = hex(seq * 2654435761, 8);
    const md5 = `${hex(seq, 8)}${hex(seq * 3, 8)}${hex(seq * 5, 8)}${hex(seq * 7, 8)}`;
    const uploaded: UploadChunkEvent = {
      event: 'uploaded',
      ...identity,
      gps,
      bytes,
      adler32,
      md5,
      rse: 'LAKE_SCRATCHDISK',
      t_avail: tAvail,
      t_enqueued: tEnqueued,
      t_started: tStarted,
      t_uploaded: tUploaded,
      attempts: 1,
      ...(late.has(seq) ? { late: true } : {}),
    };
    lines.push(pinoLine(tUploaded, host(seq % hosts), uploaded, 'chunk uploaded'));
    if (duplicates.has(seq)) {
      lines.push(pinoLine(tUploaded + 500, host(seq % hosts), { ...uploaded, t_uploaded: tUploaded + 500, attempts: 2 }, 'chunk uploaded'));
    }
    if (missing.has(seq)) continue;
    const tDetected = tUploaded + 200 + (seq % 5) * 40;
    const tVerified = tUploaded + downstream(seq);
    const base: DownloadChunkEvent = {
      event: 'verified',
      ...identity,
      bytes,
      adler32,
      md5,
      rse: 'LAKE_SCRATCHDISK',
      t_avail: tAvail,
      t_detected: tDetected,
      t_downloaded: tVerified - 3,
      t_verified: tVerified,
      attempts: 1,
    };
    const bad: DownloadChunkEvent = { ...base, event: 'corrupted', adler32: 'deadbeef', expected_adler32: adler32, t_downloaded: tVerified - 503, t_verified: tVerified - 500 };
    const download = (time: number, line: string): void => {
      pendingDownloads.push({ tVerified: time, line });
    };
    if (corrupted.has(seq)) {
      download(tVerified, pinoLine(tVerified, 'cnaf-download', { ...bad, t_verified: tVerified }, 'chunk corrupted'));
      continue;
    }
    if (recovered.has(seq)) download(tVerified - 500, pinoLine(tVerified - 500, 'cnaf-download', bad, 'chunk corrupted'));
    download(tVerified, pinoLine(tVerified, 'cnaf-download', base, 'chunk verified'));
  }

  const interrupted = produced < chunks;
  const uploadEnd = interrupted ? lastUploaded + 10 : lastAvail + 10_000;
  const downloadEnd = interrupted ? lastUploaded + (options.downloadStopsAfterMs ?? 20_000) : lastAvail + 20_000;
  downloads.push(...pendingDownloads.filter((entry) => entry.tVerified <= downloadEnd).map((entry) => entry.line));
  const finished = (side: 'upload' | 'download'): RunEvent => ({
    event: 'run_finished',
    run,
    side,
    counts: { chunks: produced },
    reason: interrupted ? 'interrupted' : 'done',
  });
  if (options.unfinished !== 'upload') uploads[0]?.push(pinoLine(uploadEnd, host(0), finished('upload'), 'run finished'));
  if (options.unfinished !== 'download') downloads.push(pinoLine(downloadEnd, 'cnaf-download', finished('download'), 'run finished'));

  const uploadFiles: string[] = [];
  if (options.withoutUploadLog !== true) {
    for (const [index, lines] of uploads.entries()) {
      const path = join(runDir, index === 0 ? 'upload.jsonl' : `upload-${host(index)}.jsonl`);
      let text = lines.join('');
      if (options.truncateLastUploadLine === true && index === uploads.length - 1) {
        const lastLine = lines[lines.length - 1] ?? '';
        text = text.slice(0, text.length - lastLine.length) + lastLine.slice(0, Math.floor(lastLine.length / 2));
      }
      await writeFile(path, text);
      uploadFiles.push(path);
    }
  }
  let downloadFile: string | undefined;
  if (options.withoutDownloadLog !== true) {
    downloadFile = join(runDir, 'download.jsonl');
    await writeFile(downloadFile, downloads.join(''));
  }
  return { runDir, uploadFiles, downloadFile };
}
