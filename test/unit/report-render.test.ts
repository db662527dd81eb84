import { describe, expect, it } from 'vitest';
import { buildReport, renderHtml, renderListing, renderText, reportToJson, verdictLine } from '../../src/report/index.js';
import { writeSyntheticRun } from '../../tools/fixtures/synthetic-logs.js';
import { scratchDirPerTest } from '../helpers/scratch.js';

const scratch = scratchDirPerTest('wavefier-report-');

describe('report rendering', () => {
  it('prints the integrity block, the latency table with the spread definition, windows and the verdict', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'r1', chunks: 1500, uploadLatencyMs: (seq) => (seq < 1200 ? 1900 : 2600) });
    const report = await buildReport([scratch.path]);
    const text = renderText(report);
    expect(text).toMatch(/^run r1, dataset user\.wavefier:rehearsal-r1\n {2}time {6}run 2026-11-26 \d\d:\d\d:\d\dZ to /);
    expect(text).toMatch(/\n {2}source {4}synthetic, 1,500 chunks of 1\.00 s\n/);
    expect(text).toMatch(/\n {2}scheduled\s+1,500 {2}from run_started\n/);
    expect(text).toContain('latency (median -a +b: the middle 68 % of chunks lie between median - a and median + b, i.e. p16 and p84)');
    // Skewed (a fifth of the chunks slower): p16 equals the median, so the lower spread is 0.
    expect(text).toMatch(/\n {2}upload latency\s+1,500\s+1\.90 -0\.00 \+0\.70 s\s+2\.04 s\s+2\.60 s\s+2\.60 s\s+2\.60 s\n/);
    expect(text).toContain('latency over time (10 min windows by t_avail, from 2026-11-26T12:00:00Z)');
    expect(text).toContain('  window (h:mm)  chunks');
    expect(text).toMatch(/\n {2}\+0:20\s+300\s+2\.60 s/);
    expect(text.trimEnd().split('\n').at(-1)).toBe(verdictLine(report));
    expect(verdictLine(report)).toMatch(/^PASS: all 1,500 chunks uploaded, all downloaded, none corrupted; upload latency median 1\.90 -0\.00 \+0\.70 s \(mean 2\.04 s\), total median/);
    expect(renderText(report, { windows: false })).not.toContain('latency over time');
  });

  it('lists problem chunks, or every chunk with --combined, with rclone symbols', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'r2', chunks: 6, missing: [1], corrupted: [2], failedUploads: [3] });
    const report = await buildReport([scratch.path]);
    expect(renderListing(report, { all: false }).split('\n')).toEqual([
      '- V-V1_WAVEFIER-1400000001-1.hdf5  (never downloaded)',
      '* V-V1_WAVEFIER-1400000002-1.hdf5  (corrupted in 1 read(s))',
      '! V-V1_WAVEFIER-1400000003-1.hdf5  (upload failed)',
    ]);
    const all = renderListing(report, { all: true }).split('\n');
    expect(all.map((line) => line.slice(0, 1))).toEqual(['=', '-', '*', '!', '=', '=']);
    expect(verdictLine(report)).toBe('FAIL: 1 chunk missing, 1 corrupted, 1 failed to upload (3 of 6 scheduled chunks verified)');
    expect(renderText(report)).toContain(
      '\n\nmissing:\n  V-V1_WAVEFIER-1400000001-1.hdf5\ncorrupted:\n  V-V1_WAVEFIER-1400000002-1.hdf5\n' +
        'failed uploads:\n  V-V1_WAVEFIER-1400000003-1.hdf5 (storage PUT: 503 Slow Down (5 attempts))\n\n',
    );
  });

  it('names at most ten chunks per problem in the summary', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'r5', chunks: 20, missing: Array.from({ length: 12 }, (_, index) => index) });
    const text = renderText(await buildReport([scratch.path]));
    expect(text).toContain('  V-V1_WAVEFIER-1400000009-1.hdf5\n  ... and 2 more (--list shows them all)\n');
    expect(text).not.toContain('1400000010');
  });

  it('gives one JSON object with every number and no per-chunk samples', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'r3', chunks: 10, missing: [4] });
    const report = await buildReport([scratch.path]);
    const json = JSON.parse(JSON.stringify(reportToJson(report, { listing: 'problems', plots: ['/x/report.html'] }))) as Record<string, unknown>;
    expect(json).toMatchObject({
      ok: false,
      verdict: { state: 'fail', exit_code: 3, summary: '1 chunk missing (9 of 10 scheduled chunks verified)' },
      run: { id: 'r3' },
      integrity: { scheduled: 10, missing: 1 },
      lists: { missing: ['V-V1_WAVEFIER-1400000004-1.hdf5'] },
      latency: { upload: { count: 10 } },
      listing: [{ status: '-', seq: 4 }],
      plots: ['/x/report.html'],
      malformed: { count: 0, lines: [] },
    });
    expect(json).not.toHaveProperty('samples');
    expect(reportToJson(report).listing).toBeNull();
  });

  it('writes a self-contained HTML page with the numbers', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'r<4>', chunks: 5 });
    const report = await buildReport([scratch.path]);
    const html = renderHtml(report, []);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('wavefier report: run r&lt;4&gt;');
    expect(html).toContain('class="verdict ok"');
    expect(html).toContain('all 5 chunks uploaded');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('names the problem chunks in the HTML page', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'r6', chunks: 5, corrupted: [2] });
    const html = renderHtml(await buildReport([scratch.path]));
    expect(html).toContain('class="verdict fail"');
    expect(html).toContain('<h3>Corrupted (1)</h3><ul><li><code>V-V1_WAVEFIER-1400000002-1.hdf5</code></li></ul>');
  });
});
