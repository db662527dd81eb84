import { headerFields } from './report-header.js';
import { objectiveSubject, statisticName } from './slo.js';
import {
  isProblem,
  latencyMetrics,
  type ChunkListingEntry,
  type LatencyMetric,
  type LatencyStats,
  type LatencyTable,
  type ObjectiveResult,
  type Report,
  type SideInfo,
} from './report-types.js';

/**
 * `report --json` and `rehearse --json`: one documented shape (docs/report.schema.json, generated
 * from report-json-schema.ts), versioned by `schema_version`. Conventions: snake_case keys
 * throughout (run settings included); every point in time twice, `<name>` as ISO 8601 (UTC) and
 * `<name>_ms` as epoch milliseconds; every duration in milliseconds, `<name>_ms`, rounded to 0.01;
 * unknown values are null, never left out, so that a script reads the same keys from every run.
 */
export const reportSchemaVersion = 1;

export interface ReportJsonOptions {
  /** Include every chunk's listing entry (`--list`: problems only, `--combined`: all). */
  listing?: 'problems' | 'all';
  /** Files written by writePlots / writeHtml (only when plots were asked for). */
  plots?: readonly string[];
  /** `rehearse`: where the run went and how long it took. */
  rehearsal?: { runDir: string; htmlFile: string | undefined; wallMs: number };
  /** `report --compare`: the other run. */
  compare?: Report;
  command?: 'report' | 'rehearse';
}

/** A duration in ms to 0.01 ms: no float noise (81.95999999999998 is 81.96). */
export function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function nullableMs(ms: number | undefined): number | null {
  return ms === undefined || !Number.isFinite(ms) ? null : roundMs(ms);
}

/** `{ name: ISO, name_ms: epoch ms }`, both null when unknown. */
function instant<K extends string>(name: K, epochMs: number | undefined): Record<K | `${K}_ms`, string | number | null> {
  const known = epochMs !== undefined && Number.isFinite(epochMs);
  return { [name]: known ? new Date(epochMs).toISOString() : null, [`${name}_ms`]: known ? Math.round(epochMs) : null } as Record<K | `${K}_ms`, string | number | null>;
}

export function snakeCase(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[-\s]+/g, '_').toLowerCase();
}

/** Keys to snake_case at every depth (run settings are written by other versions and tools). */
function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, inner]) => [snakeCase(key), snakeKeys(inner)]));
}

const metricKeys: Record<LatencyMetric, string> = { pacingError: 'pacing_error', upload: 'upload', detection: 'detection', total: 'total' };

function statsJson(stats: LatencyStats | null): Record<string, number> | null {
  if (!stats) return null;
  return {
    count: stats.count,
    mean_ms: roundMs(stats.mean),
    min_ms: roundMs(stats.min),
    p16_ms: roundMs(stats.p16),
    median_ms: roundMs(stats.median),
    p84_ms: roundMs(stats.p84),
    p90_ms: roundMs(stats.p90),
    p99_ms: roundMs(stats.p99),
    max_ms: roundMs(stats.max),
    below_median_ms: roundMs(stats.belowMedian),
    above_median_ms: roundMs(stats.aboveMedian),
    minus_ms: roundMs(stats.minus),
    plus_ms: roundMs(stats.plus),
  };
}

function latencyJson(table: LatencyTable): Record<string, Record<string, number> | null> {
  return Object.fromEntries(latencyMetrics.map((metric) => [metricKeys[metric], statsJson(table[metric])]));
}

function sideJson(side: SideInfo): Record<string, unknown> {
  return {
    hosts: side.hosts,
    writers: side.writers,
    ...instant('started_at', side.startedAt),
    ...instant('ready_at', side.readyAt),
    ...instant('finished_at', side.finishedAt),
    startup_ms: side.startupMs !== undefined ? roundMs(side.startupMs) : side.startedAt === undefined || side.readyAt === undefined ? null : roundMs(side.readyAt - side.startedAt),
    settings: snakeKeys(side.settings),
  };
}

function objectiveJson(result: ObjectiveResult): Record<string, unknown> {
  const { objective } = result;
  return {
    objective: objective.text,
    subject: objectiveSubject(objective),
    metric: metricKeys[objective.metric],
    statistic: statisticName(objective.statistic),
    comparison: objective.comparison,
    threshold_ms: roundMs(objective.thresholdMs),
    actual_ms: result.actualMs === null ? null : roundMs(result.actualMs),
    met: result.met,
  };
}

function named(list: readonly { name: string; error: string | undefined }[]): { name: string; error: string | null }[] {
  return list.map((entry) => ({ name: entry.name, error: entry.error ?? null }));
}

function listingJson(entry: ChunkListingEntry): Record<string, unknown> {
  return { status: entry.status, name: entry.name, seq: entry.seq, run: entry.run, detail: entry.detail ?? null };
}

/** The run, its verdict, integrity, latency and objectives: what a comparison carries of the other run too. */
function runPart(report: Report): Record<string, unknown> {
  const { run, integrity, lists, verdict, completion } = report;
  return {
    ok: verdict.ok,
    verdict: { state: verdict.state, exit_code: verdict.exitCode, summary: verdict.summary },
    run: {
      id: run.id,
      selected_by: run.selectedBy,
      candidates: run.candidates,
      record_runs: run.recordRuns,
      scope: run.scope ?? null,
      dataset: run.dataset ?? null,
      period_ms: nullableMs(run.periodMs),
      ...instant('t0', run.t0),
      ...instant('first_avail', run.firstAvail),
      ...instant('last_avail', run.lastAvail),
      sides: { upload: sideJson(run.sides.upload), download: sideJson(run.sides.download) },
      writer_counts: run.writerCounts.map((writer) => ({ side: writer.side, counts: snakeKeys(writer.counts), reason: writer.reason ?? null })),
    },
    header: headerFields(report).map((field) => ({ label: field.label, value: field.value })),
    completion: {
      state: completion.state,
      upload: completion.upload,
      download: completion.download,
      ...instant('download_stopped_at', completion.downloadStoppedAt),
      grace_ms: nullableMs(completion.graceMs),
    },
    integrity: snakeKeys(integrity),
    lists: {
      missing: lists.missing,
      in_flight: lists.inFlight,
      corrupted: lists.corrupted,
      invalid: named(lists.invalid),
      recovered: lists.recovered,
      failed_uploads: named(lists.failedUploads),
      download_failures: named(lists.downloadFailures),
      skipped: lists.skipped.map((entry) => ({ name: entry.name, reason: entry.reason })),
      late: lists.late,
      duplicate_uploads: lists.duplicateUploads,
      duplicate_verifications: lists.duplicateVerifications,
      not_in_upload_log: lists.notInUploadLog,
      foreign: lists.foreign,
      unaccounted_seqs: lists.unaccountedSeqs,
    },
    latency: latencyJson(report.latency),
    objectives: report.objectives.map(objectiveJson),
  };
}

/**
 * The report as one JSON object for scripts (the shape of docs/report.schema.json). Per-chunk
 * samples are left out (they are in the logs).
 */
export function reportToJson(report: Report, options: ReportJsonOptions = {}): Record<string, unknown> {
  const { windows } = report;
  const json: Record<string, unknown> = {
    schema_version: reportSchemaVersion,
    command: options.command ?? 'report',
    ...runPart(report),
    windows: {
      size_ms: roundMs(windows.sizeMs),
      ...instant('origin', windows.origin),
      label_pattern: windows.labelPattern,
      items: windows.items.map((window) => ({
        index: window.index,
        label: window.label,
        ...instant('start', window.start),
        ...instant('end', window.end),
        chunks: window.chunks,
        latency: latencyJson(window.latency),
      })),
    },
    files: report.files.map((file) => ({
      path: file.path,
      side: file.side,
      lines: file.lines,
      chunk_events: file.chunkEvents,
      run_events: file.runEvents,
      ignored: file.ignored,
      malformed: file.malformed,
      hosts: file.hosts,
    })),
    malformed: { count: report.malformedCount, lines: report.malformed.map((line) => ({ file: line.file, line: line.line, reason: line.reason })) },
    warnings: report.warnings,
    listing: options.listing === undefined ? null : (options.listing === 'all' ? report.listing : report.listing.filter(isProblem)).map(listingJson),
    plots: options.plots === undefined ? null : [...options.plots],
    compare: options.compare === undefined ? null : runPart(options.compare),
    rehearsal:
      options.rehearsal === undefined
        ? null
        : { run_dir: options.rehearsal.runDir, html: options.rehearsal.htmlFile ?? null, wall_ms: roundMs(options.rehearsal.wallMs) },
  };
  return json;
}
