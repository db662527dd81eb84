import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport, readObjectives, reportJsonSchema, reportJsonSchemaDocument, reportToJson } from '../../src/report/index.js';
import { writeSyntheticRun } from '../../tools/fixtures/synthetic-logs.js';
import { scratchDirPerTest } from '../helpers/scratch.js';

const scratch = scratchDirPerTest('wavefier-report-json-');

/** Every key at every depth, with its path. */
function keysOf(value: unknown, path = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((item, index) => keysOf(item, `${path}[${index}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) => [`${path}.${key}`, ...keysOf(inner, `${path}.${key}`)]);
}

/** Every number whose key ends in _ms (durations and epoch times), with its path. */
function msValues(value: unknown, path = '$'): [string, number][] {
  if (Array.isArray(value)) return value.flatMap((item, index) => msValues(item, `${path}[${index}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) =>
    typeof inner === 'number' && key.endsWith('_ms') ? [[`${path}.${key}`, inner] as [string, number]] : msValues(inner, `${path}.${key}`),
  );
}

describe('report --json schema (schema_version 1)', () => {
  it('gives the documented shape: snake_case keys, ISO and epoch-ms times, durations rounded to 0.01 ms', async () => {
    // Latencies with float noise (1900.123456...), a fault of each kind and a second host.
    await writeSyntheticRun({
      logDir: scratch.path,
      run: 'j1',
      chunks: 300,
      uploadLatencyMs: (seq) => 1900.123456 + seq / 7,
      missing: [3],
      corrupted: [5],
      failedUploads: [7],
      skipped: [{ seq: 9, reason: 'gap' }],
      late: [11],
      uploadHosts: 2,
    });
    const objectives = await readObjectives(['total.p50<=300ms,upload.p99<=1h', 'detection.max<1ms']);
    const report = await buildReport([scratch.path], { objectives, windowMs: 30_000 });
    const json = JSON.parse(JSON.stringify(reportToJson(report, { listing: 'problems' }))) as Record<string, unknown>;
    const parsed = reportJsonSchema.parse(json);

    expect(parsed.schema_version).toBe(1);
    expect(parsed.command).toBe('report');
    expect(parsed.verdict).toMatchObject({ state: 'fail', exit_code: 3 });
    expect(parsed.integrity).toMatchObject({ scheduled: 300, missing: 1, corrupted: 1, failed_uploads: 1, skipped: 1, skipped_by_reason: { gap: 1 } });
    expect(parsed.lists.failed_uploads).toEqual([{ name: 'V-V1_WAVEFIER-1400000007-1.hdf5', error: expect.any(String) as string }]);
    // Settings and every other key in snake_case, at every depth.
    const camel = keysOf(json).filter((path) => /[A-Z]/.test(path.split('.').at(-1) ?? '') && !path.includes('.skipped_by_reason.'));
    expect(camel).toEqual([]);
    // Durations to 0.01 ms: no float noise.
    for (const [path, value] of msValues(json)) expect(Math.round(value * 100) / 100, path).toBe(value);
    expect(parsed.latency.upload?.median_ms).toBe(Math.round(report.latency.upload!.median * 100) / 100);
    // Every time twice: ISO 8601 and epoch ms, the same instant.
    expect(parsed.run.first_avail).toBe(new Date(parsed.run.first_avail_ms ?? 0).toISOString());
    expect(parsed.run.sides.upload.started_at).toBe(new Date(parsed.run.sides.upload.started_at_ms ?? 0).toISOString());
    expect(parsed.windows).toMatchObject({ size_ms: 30_000, label_pattern: 'm:ss' });
    expect(parsed.windows.items.slice(0, 3).map((window) => window.label)).toEqual(['+0:00', '+0:30', '+1:00']);
    expect(parsed.windows.items[1]?.start).toBe(new Date(parsed.windows.items[1]?.start_ms ?? 0).toISOString());
    // Objectives, each met or missed, with the measured value.
    expect(parsed.objectives.map((objective) => [objective.objective, objective.met])).toEqual([
      ['total.p50<=300ms', false],
      ['upload.p99<=1h', true],
      ['detection.max<1ms', false],
    ]);
    expect(parsed.objectives[0]).toMatchObject({ metric: 'total', statistic: 'p50', comparison: '<=', threshold_ms: 300 });
    expect(parsed.objectives[0]?.actual_ms).toBe(parsed.latency.total?.median_ms);
    expect(parsed.listing?.map((entry) => entry.status)).toEqual(['-', '*', '!']);
    expect(parsed.header[0]).toEqual({ label: 'run', value: 'j1, dataset user.wavefier:rehearsal-j1' });
    // Unknown values are null, never left out; plots, compare and rehearsal only when there are some.
    expect(parsed).toMatchObject({ plots: null, compare: null, rehearsal: null });
    expect(reportToJson(report).listing).toBeNull();
  });

  it('keeps the same keys for a run without a download log (nulls, not missing keys)', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'j2', chunks: 5, withoutDownloadLog: true });
    const report = await buildReport([scratch.path]);
    const parsed = reportJsonSchema.parse(JSON.parse(JSON.stringify(reportToJson(report))));
    expect(parsed.verdict.exit_code).toBe(5);
    expect(parsed.latency.total).toBeNull();
    expect(parsed.run.sides.download).toMatchObject({ hosts: [], writers: 0, started_at: null, started_at_ms: null, startup_ms: null });
  });

  it('rejects what the schema does not document (a camelCase key, a missing key)', () => {
    expect(() => reportJsonSchema.parse({ schema_version: 1 })).toThrow();
  });

  it('is the committed docs/report.schema.json', async () => {
    const committed = JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'docs', 'report.schema.json'), 'utf8')) as unknown;
    // When this fails after a change to report-json-schema.ts: write reportJsonSchemaDocument() to docs/report.schema.json.
    expect(committed).toEqual(JSON.parse(JSON.stringify(reportJsonSchemaDocument())));
  });
});
