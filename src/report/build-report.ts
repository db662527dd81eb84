import { formatDuration } from '../common/duration.js';
import { InputError, InterruptedError, UsageError, errorMessage } from '../common/errors.js';
import { ChunkLedger } from './chunk-ledger.js';
import { offsetLabels, plural } from './format.js';
import { discoverLogs, selectRun, unknownRunError } from './log-discovery.js';
import { readLogFile, type LogSink } from './log-reader.js';
import type { LatencyObjective, LogFileSummary, MalformedLine, Report } from './report-types.js';
import { RunSettingsCollector } from './run-settings.js';
import { applyObjectives, evaluateObjectives } from './slo.js';
import { latencyTable, latencyWindows } from './time-windows.js';
import { verdictOf } from './verdict.js';

export interface BuildReportOptions {
  /** The upload run id to report when the logs hold several; default: the most recent upload run. */
  runId?: string;
  /** Width of the latency windows (by t_avail); default 10 minutes. */
  windowMs?: number;
  signal?: AbortSignal;
  /** Called every `progressEveryLines` lines of a file (for a live status line on long soaks). */
  onProgress?: (file: string, lines: number) => void;
  /** Default 50,000. */
  progressEveryLines?: number;
  /** Latency objectives (--slo): each is judged, and a missed one fails a run whose chunks are intact (exit 6). */
  objectives?: readonly LatencyObjective[];
}

export const defaultWindowMs = 10 * 60_000;

/** How far before t_uploaded a downloader may see a chunk on one clock (the uploader's stamp lags). */
const detectionStampSlackMs = 1000;

/**
 * Reads the upload and download logs of one upload run from every given path (any hosts, any
 * folders: which run a log or a chunk belongs to is read from the lines), joins them by chunk
 * identity, and returns the report as plain data. Reads each file as a stream, so memory grows with
 * the number of chunks, not of lines.
 */
export async function buildReport(dirs: readonly string[], options: BuildReportOptions = {}): Promise<Report> {
  const windowMs = options.windowMs ?? defaultWindowMs;
  if (!Number.isFinite(windowMs) || windowMs <= 0) {
    throw new UsageError(`invalid window ${windowMs} ms: give a positive duration, e.g. --window 10m`);
  }
  const logs = await discoverLogs(dirs);
  const selection = selectRun(logs, options.runId);

  const ledger = new ChunkLedger(selection.run);
  const settings = new RunSettingsCollector(selection.run, () => ledger.facts.dataset);
  // The ledger judges the run from its start and end; `ready` only tells the header how long start-up took.
  const sink: LogSink = {
    uploadChunk: ledger.uploadChunk.bind(ledger),
    downloadChunk: ledger.downloadChunk.bind(ledger),
    runEvent: (event, time, order, hostname) => {
      settings.runEvent(event, time, hostname);
      if (event.event !== 'ready') ledger.runEvent(event, time, order);
    },
  };
  const malformed: MalformedLine[] = [];
  const files: LogFileSummary[] = [];
  const counter = { order: 0 };
  // Upload logs first: they say which chunks the run has, so download lines find their chunk.
  for (const file of [...selection.uploadFiles, ...selection.downloadFiles]) {
    if (options.signal?.aborted) throw options.signal.reason instanceof InterruptedError ? options.signal.reason : new InterruptedError('SIGINT');
    try {
      const progress = options.onProgress && { every: Math.max(1, options.progressEveryLines ?? 50_000), report: options.onProgress };
      const summary = await readLogFile(file, sink, malformed, counter, progress);
      settings.addHosts(summary.side, summary.hosts);
      files.push(summary);
    } catch (error) {
      throw new InputError(`cannot read log file ${file.path}: ${errorMessage(error)}; check that it exists and is readable`, { file: file.path, cause: error });
    }
  }
  // A --run that names nothing while other runs are there is most likely a typo: say which runs exist.
  // With no upload run at all (a producer killed before its first line), the report says what is missing.
  if (options.runId !== undefined && selection.uploadFiles.length === 0 && ledger.size === 0 && selection.candidates.length > 0) {
    throw unknownRunError(options.runId, selection.candidates);
  }

  const haveUploadLog = files.some((file) => file.side === 'upload');
  const haveDownloadLog = files.some((file) => file.side === 'download');
  const ledgerResult = ledger.finish(haveUploadLog, haveDownloadLog);
  const { integrity, samples } = ledgerResult;
  const facts = ledger.facts;
  const runId = selection.run ?? (ledgerResult.recordRuns.length > 0 ? ledgerResult.recordRuns.join(', ') : '(unknown)');

  const warnings: string[] = [];
  for (const file of selection.anonymousUploadFiles) warnings.push(`${file.path} names no upload run (no run or chunk event in its first lines): not read`);
  if (!haveUploadLog) warnings.push(`no upload log of run ${runId}: only download-side numbers, and no verdict; total latency uses the chunks' own t_avail`);
  if (!haveDownloadLog) warnings.push(`no download log of run ${runId}'s dataset: nothing can be called verified or missing, and there is no verdict`);
  warnings.push(...ledgerResult.warnings);
  if (integrity.notInUploadLog > 0) {
    warnings.push(
      `${plural(integrity.notInUploadLog, 'chunk')} downloaded but not in the upload logs: pass the log directories of every uploading host`,
    );
  }
  // These span hosts (pacer, upload workers, downloader): a negative value means their clocks disagree.
  // Except slightly negative detection delays: an upload worker stamps t_uploaded after the catalog
  // answered, and a busy worker can do so after the downloader already saw the file.
  const spanning = { upload: 'upload latency', detection: 'detection delay', total: 'total latency' } as const;
  for (const [metric, label] of Object.entries(spanning) as [keyof typeof spanning, string][]) {
    const floor = metric === 'detection' ? -detectionStampSlackMs : 0;
    let negative = 0;
    for (const value of samples[metric]) if (value < floor) negative++;
    if (negative > 0) {
      const below = floor === 0 ? 'negative' : `below ${formatDuration(floor)}`;
      warnings.push(`${plural(negative, label).replace(/ys$/, 'ies')} ${below}: the clocks of the hosts disagree (check NTP)`);
    }
  }

  const firstAvail = samples.tAvail[0];
  const lastAvail = samples.tAvail[samples.tAvail.length - 1];
  // From t0, unless a chunk is stamped before it (an unpaced run stamps its first chunk a few ms
  // early): a window "-0:10" holding one chunk would read as a clock problem.
  const origin = facts.t0 === undefined || firstAvail === undefined ? (facts.t0 ?? firstAvail) : Math.min(facts.t0, firstAvail);
  const latency = latencyTable(samples);
  const windowItems = origin === undefined ? [] : latencyWindows(samples, windowMs, origin);
  const labels = offsetLabels(windowMs, (windowItems.at(-1)?.start ?? 0) - (origin ?? 0));
  const objectives = evaluateObjectives(options.objectives ?? [], samples);
  const verdict = verdictOf(integrity, latency, ledger.size, ledgerResult.completion, { upload: haveUploadLog, download: haveDownloadLog, run: runId });
  return {
    run: {
      id: runId,
      selectedBy: selection.uploadFiles.length === 0 && options.runId === undefined ? 'none' : selection.selectedBy,
      candidates: selection.candidates,
      recordRuns: ledgerResult.recordRuns,
      scope: facts.scope,
      dataset: facts.dataset,
      t0: facts.t0,
      periodMs: facts.periodMs,
      firstAvail,
      lastAvail,
      writerCounts: facts.writerCounts,
      sides: settings.result(),
    },
    files,
    malformed,
    malformedCount: files.reduce((sum, file) => sum + file.malformed, 0),
    warnings,
    integrity,
    lists: ledgerResult.lists,
    latency,
    windows: {
      sizeMs: windowMs,
      origin,
      labelPattern: labels.pattern,
      items: windowItems.map((window) => ({ ...window, label: labels.label(window.start - (origin ?? 0)) })),
    },
    objectives,
    completion: ledgerResult.completion,
    verdict: applyObjectives(verdict, objectives),
    listing: ledgerResult.listing,
    samples,
  };
}
