import { z } from 'zod';

/**
 * The shape of `report --json` and `rehearse --json` (schema_version 1), as zod: the tests check
 * every JSON the commands print against it, and docs/report.schema.json is generated from it
 * (`reportJsonSchema()`; a test keeps the committed file equal to it).
 */

const iso = z.string().describe('ISO 8601, UTC');
const epochMs = z.number().int().describe('epoch milliseconds');
const ms = z.number().describe('milliseconds, rounded to 0.01');
const side = z.enum(['upload', 'download']);

/** `<name>` ISO 8601 and `<name>_ms` epoch ms, both null when unknown. */
function instant<K extends string>(name: K): Record<K, z.ZodNullable<z.ZodString>> & Record<`${K}_ms`, z.ZodNullable<z.ZodNumber>> {
  return { [name]: iso.nullable(), [`${name}_ms`]: epochMs.nullable() } as Record<K, z.ZodNullable<z.ZodString>> & Record<`${K}_ms`, z.ZodNullable<z.ZodNumber>>;
}

const stats = z
  .strictObject({
    count: z.number().int().nonnegative(),
    mean_ms: ms,
    min_ms: ms,
    p16_ms: ms,
    median_ms: ms,
    p84_ms: ms,
    p90_ms: ms,
    p99_ms: ms,
    max_ms: ms,
    below_median_ms: ms.describe('median - p16, never negative'),
    above_median_ms: ms.describe('p84 - median, never negative'),
    minus_ms: ms.describe('p16 - mean (either sign when skewed)'),
    plus_ms: ms.describe('p84 - mean (either sign when skewed)'),
  })
  .meta({ id: 'latency_stats' })
  .nullable()
  .describe('null when no chunk has a value of the metric');

const latency = z
  .strictObject({ pacing_error: stats, upload: stats, detection: stats, total: stats })
  .meta({ id: 'latency_table' })
  .describe('pacing_error = t_enqueued - t_avail; upload = t_uploaded - t_avail; detection = t_detected - t_uploaded; total = t_verified - t_avail');

const sideInfo = z.strictObject({
  hosts: z.array(z.string()),
  writers: z.number().int().nonnegative().describe('run_started lines (processes) of this side'),
  ...instant('started_at'),
  ...instant('ready_at'),
  ...instant('finished_at'),
  startup_ms: ms.nullable().describe("start-up of this side: its ready line's startup_ms (from the process's start), else ready_at - started_at"),
  settings: z.record(z.string(), z.unknown()).describe('run_started settings as written, keys in snake_case'),
}).meta({ id: 'side' });

const named = z.array(z.strictObject({ name: z.string(), error: z.string().nullable() })).meta({ id: 'named_chunks' });
const count = z.number().int().nonnegative();

const integrity = z.strictObject({
  scheduled: count,
  scheduled_source: z.enum(['run_started', 'highest-seq']),
  uploaded: count,
  failed_uploads: count,
  skipped: count,
  skipped_by_reason: z.record(z.string(), count),
  late: count,
  downloaded: count,
  verified: count,
  corrupted_reads: count,
  chunks_with_corrupted_read: count,
  corrupted: count,
  invalid: count,
  recovered: count,
  missing: count,
  in_flight: count,
  download_failures: count,
  duplicate_uploads: count,
  duplicate_verifications: count,
  not_in_upload_log: count,
  foreign: count,
  unaccounted: count,
});

const lists = z.strictObject({
  missing: z.array(z.string()),
  in_flight: z.array(z.string()),
  corrupted: z.array(z.string()),
  invalid: named,
  recovered: z.array(z.string()),
  failed_uploads: named,
  download_failures: named,
  skipped: z.array(z.strictObject({ name: z.string(), reason: z.string() })),
  late: z.array(z.string()),
  duplicate_uploads: z.array(z.string()),
  duplicate_verifications: z.array(z.string()),
  not_in_upload_log: z.array(z.string()),
  foreign: z.array(z.string()),
  unaccounted_seqs: z.array(z.number().int()),
});

const objective = z.strictObject({
  objective: z.string().describe('canonical form, e.g. total.p99<=2s'),
  subject: z.string().describe('metric.statistic, e.g. total.p99'),
  metric: z.enum(['pacing_error', 'upload', 'detection', 'total']),
  statistic: z.string().describe('p50, p99, p99.9, mean or max'),
  comparison: z.enum(['<=', '<']),
  threshold_ms: ms,
  actual_ms: ms.nullable().describe('null when no chunk has a value of the metric (then not met)'),
  met: z.boolean(),
}).meta({ id: 'objective' });

const sideEnding = z.enum(['finished', 'interrupted', 'unfinished', 'none']);

/** What a comparison carries of the other run as well. */
const runPart = {
  ok: z.boolean(),
  verdict: z.strictObject({
    state: z.enum(['pass', 'fail', 'interrupted', 'unfinished', 'no-verdict']),
    exit_code: z.union([z.literal(0), z.literal(3), z.literal(4), z.literal(5), z.literal(6)]),
    summary: z.string(),
  }),
  run: z.strictObject({
    id: z.string(),
    selected_by: z.enum(['only', 'flag', 'most-recent', 'none']),
    candidates: z.array(z.string()),
    record_runs: z.array(z.string()),
    scope: z.string().nullable(),
    dataset: z.string().nullable(),
    period_ms: ms.nullable(),
    ...instant('t0'),
    ...instant('first_avail'),
    ...instant('last_avail'),
    sides: z.strictObject({ upload: sideInfo, download: sideInfo }),
    writer_counts: z.array(z.strictObject({ side, counts: z.record(z.string(), z.number()), reason: z.string().nullable() })),
  }),
  header: z.array(z.strictObject({ label: z.string(), value: z.string() })).describe('the header block as the text report prints it'),
  completion: z.strictObject({
    state: z.enum(['complete', 'interrupted', 'unfinished']),
    upload: sideEnding,
    download: sideEnding,
    ...instant('download_stopped_at'),
    grace_ms: ms.nullable(),
  }),
  integrity,
  lists,
  latency,
  objectives: z.array(objective),
};

const window = z.strictObject({
  index: z.number().int().nonnegative(),
  label: z.string().describe('offset of the window start from the origin, e.g. +1:30'),
  ...instant('start'),
  ...instant('end'),
  chunks: count,
  latency,
}).meta({ id: 'window' });

export const reportJsonSchema = z
  .strictObject({
    schema_version: z.literal(1),
    command: z.enum(['report', 'rehearse']),
    ...runPart,
    windows: z.strictObject({
      size_ms: ms,
      ...instant('origin'),
      label_pattern: z.string().describe('how labels read: h:mm, m:ss, h:mm:ss, m:ss.s...'),
      items: z.array(window),
    }),
    files: z.array(
      z.strictObject({
        path: z.string(),
        side,
        lines: count,
        chunk_events: count,
        run_events: count,
        ignored: count,
        malformed: count,
        hosts: z.array(z.string()),
      }),
    ),
    malformed: z.strictObject({ count, lines: z.array(z.strictObject({ file: z.string(), line: z.number().int(), reason: z.string() })) }),
    warnings: z.array(z.string()),
    listing: z
      .array(z.strictObject({ status: z.enum(['=', '-', '*', '!', '+', '~']), name: z.string(), seq: z.number().int(), run: z.string(), detail: z.string().nullable() }))
      .nullable()
      .describe('with --list (problems) or --combined (every chunk); else null'),
    plots: z.array(z.string()).nullable().describe('files written (plots and report.html) when plots were asked for; else null'),
    compare: z.strictObject(runPart).meta({ id: 'compared_run' }).nullable().describe('report --compare: the other run'),
    rehearsal: z
      .strictObject({ run_dir: z.string(), html: z.string().nullable(), wall_ms: ms })
      .nullable()
      .describe('rehearse: its run directory, report page and wall time; null from report'),
  })
  .describe('wavefier report --json / rehearse --json');

export type ReportJson = z.infer<typeof reportJsonSchema>;

/** The JSON Schema (draft 2020-12) of docs/report.schema.json. */
export function reportJsonSchemaDocument(): Record<string, unknown> {
  return {
    title: 'wavefier report (schema_version 1)',
    ...z.toJSONSchema(reportJsonSchema, { target: 'draft-2020-12' }),
  };
}
