import { formatDuration } from '../common/duration.js';
import { errorMessage } from '../common/errors.js';
import type { Output } from '../common/output.js';
import { LiveProgress, type ProgressSnapshot, type SideProgress } from './live-progress.js';

export interface LiveViewOptions {
  run: string;
  /** The logs the upload and the download write. */
  files: { upload: string; download: string };
  schedule: { scheduled: number; intervalMs: number };
  /** Without a terminal or with --json, a line or event this often (rehearse --progress-interval); default a minute, 10 s with --json. */
  everyMs?: number;
  output: Output;
  now?: () => number;
}

export interface LiveView {
  /** Takes the block off the terminal (the report follows). */
  stop(): Promise<void>;
}

/** A terminal's block is redrawn this often. */
const terminalTickMs = 500;
/** Without a terminal, one line this often. */
const lineEveryMs = 60_000;
/** With --json, one progress event this often. */
const jsonEveryMs = 10_000;

/**
 * The rehearsal's live progress, read from the logs of its upload and download as they are written:
 * on a terminal, a block redrawn in place (upload and download side by side); without one, a line
 * a minute on stderr; with --json, a `progress` event on stdout every 10 s; nothing with -q.
 */
export function startLiveView(options: LiveViewOptions): LiveView {
  const { output } = options;
  if (output.quiet) return { stop: () => Promise.resolve() };
  const progress = new LiveProgress(options.run, options.files, options.schedule, options.now);
  const started = (options.now ?? Date.now)();
  const mode = output.json ? 'json' : output.interactive ? 'terminal' : 'lines';
  let busy: Promise<void> = Promise.resolve();
  let failed = false;
  const tick = (): void => {
    busy = busy.then(async () => {
      try {
        const snapshot = await progress.poll();
        if (mode === 'terminal') output.statusBlock(renderBlock(options.run, snapshot, started));
        else if (mode === 'lines') output.info(renderLine(snapshot, started));
        else output.result(progressEvent(options.run, snapshot, started), '');
      } catch (error) {
        // The view is a convenience: a log it cannot read is said once, and the rehearsal goes on.
        if (!failed) output.warn(`live view: ${errorMessage(error)}`);
        failed = true;
      }
    });
  };
  const timer = setInterval(tick, mode === 'terminal' ? terminalTickMs : (options.everyMs ?? (mode === 'lines' ? lineEveryMs : jsonEveryMs)));
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await busy;
      output.clearStatus();
    },
  };
}

function latencyText(side: SideProgress): string {
  return side.p50Ms === undefined || side.p99Ms === undefined ? '-' : `p50 ${formatDuration(side.p50Ms)}  p99 ${formatDuration(side.p99Ms)}`;
}

function rateText(rate: number): string {
  return `${rate.toFixed(rate >= 100 ? 0 : 1)} chunks/s`;
}

function elapsedText(snapshot: ProgressSnapshot, started: number): string {
  return formatDuration(Math.max(0, snapshot.at - (snapshot.t0 ?? started)));
}

function etaText(snapshot: ProgressSnapshot): string {
  if (snapshot.etaMs === undefined) return 'ETA unknown';
  return snapshot.etaMs < 1000 ? 'ETA under 1 s' : `ETA ${formatDuration(snapshot.etaMs)}`;
}

/** The terminal's block: a title line, then upload and download side by side. */
export function renderBlock(run: string, s: ProgressSnapshot, started: number): string[] {
  const upload: [string, string][] = [
    ['produced', `${s.produced} of ${s.scheduled}`],
    ['uploaded', String(s.uploaded)],
    ['failed', `${s.failed}   skipped ${s.skipped}`],
    ['queue', String(s.uploadQueue)],
    ['rate', rateText(s.upload.rate)],
    ['latency', latencyText(s.upload)],
  ];
  const download: [string, string][] = [
    ['verified', String(s.verified)],
    ['corrupted', String(s.corrupted)],
    ['missing', String(s.missing)],
    ['queue', String(s.downloadQueue)],
    ['rate', rateText(s.download.rate)],
    ['total', latencyText(s.download)],
  ];
  const cell = ([label, value]: [string, string]): string => `${label.padEnd(10)} ${value}`;
  // A fixed width keeps the download column still while the numbers grow (wider only for a wide cell).
  const width = Math.max(36, ...upload.map((row) => cell(row).length + 3));
  return [
    `rehearsal ${run}  ${elapsedText(s, started)}  ${s.finished ? 'done' : etaText(s)}`,
    `  ${'upload'.padEnd(width)}download`,
    ...upload.map((row, index) => `  ${cell(row).padEnd(width)}${cell(download[index] ?? ['', ''])}`),
  ];
}

/** One line, for a log or a pipe. */
export function renderLine(s: ProgressSnapshot, started: number): string {
  return (
    `progress ${elapsedText(s, started)}: upload ${s.produced}/${s.scheduled} produced, ${s.uploaded} uploaded, ${s.failed} failed, ${s.skipped} skipped, ` +
    `queue ${s.uploadQueue}, ${rateText(s.upload.rate)}, latency ${latencyText(s.upload)}; ` +
    `download ${s.verified} verified, ${s.corrupted} corrupted, ${s.missing} missing, queue ${s.downloadQueue}, ${rateText(s.download.rate)}, ` +
    `total ${latencyText(s.download)}; ${etaText(s)}`
  );
}

const round = (value: number): number => Math.round(value * 100) / 100;

/** The `progress` event of `rehearse --json`. */
export function progressEvent(run: string, s: ProgressSnapshot, started: number): Record<string, unknown> {
  return {
    event: 'progress',
    run,
    time: new Date(s.at).toISOString(),
    elapsed_ms: Math.max(0, s.at - (s.t0 ?? started)),
    scheduled: s.scheduled,
    produced: s.produced,
    uploaded: s.uploaded,
    failed: s.failed,
    skipped: s.skipped,
    upload_queue: s.uploadQueue,
    verified: s.verified,
    corrupted: s.corrupted,
    missing: s.missing,
    download_queue: s.downloadQueue,
    upload_rate_per_s: round(s.upload.rate),
    upload_latency_p50_ms: s.upload.p50Ms === undefined ? null : round(s.upload.p50Ms),
    upload_latency_p99_ms: s.upload.p99Ms === undefined ? null : round(s.upload.p99Ms),
    download_rate_per_s: round(s.download.rate),
    total_latency_p50_ms: s.download.p50Ms === undefined ? null : round(s.download.p50Ms),
    total_latency_p99_ms: s.download.p99Ms === undefined ? null : round(s.download.p99Ms),
    eta_ms: s.etaMs === undefined ? null : Math.round(s.etaMs),
  };
}
