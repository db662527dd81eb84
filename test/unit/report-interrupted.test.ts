import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { buildReport, renderHtml, renderListing, renderText, reportExitCode, reportToJson, verdictErrorFor, verdictLine } from '../../src/report/index.js';
import { writeSyntheticRun } from '../../tools/fixtures/synthetic-logs.js';
import { runFinished, runStarted, t0, uploaded, verified, writeLog } from '../fixtures/report/log-lines.js';
import { scratchDirPerTest } from '../helpers/scratch.js';

const scratch = scratchDirPerTest('wavefier-report-');

describe('report of a run stopped early', () => {
  it('calls a run interrupted after 2,000 of 14,400 chunks, all verified, INTERRUPTED with exit 4', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'stopped', chunks: 14_400, interruptAfter: 2000 });
    const report = await buildReport([scratch.path]);
    expect(report.completion).toMatchObject({ state: 'interrupted', upload: 'interrupted', download: 'interrupted' });
    expect(report.integrity).toMatchObject({ scheduled: 14_400, uploaded: 2000, verified: 2000, missing: 0, inFlight: 0, unaccounted: 12_400 });
    expect(report.verdict).toEqual({
      ok: false,
      state: 'interrupted',
      exitCode: 4,
      summary: 'interrupted after 2,000 of 14,400 scheduled chunks: of those, 2,000 verified, 0 lost, 0 corrupted',
    });
    expect(reportExitCode(report)).toBe(4);
    const text = renderText(report);
    expect(text.trimEnd().split('\n').at(-1)).toBe(
      'INTERRUPTED after 2,000 of 14,400 scheduled chunks: of those, 2,000 verified, 0 lost, 0 corrupted',
    );
    expect(text).toContain('integrity (stopped early: upload was interrupted, download was interrupted)\n');
    expect(text).toMatch(/\n {2}not produced\s+12,400 {2}the run stopped before them\n/);
    // Chunks the run never produced are not problems: no "in no log" list, no "missing" row above 0.
    expect(text).not.toContain('in no log');
    expect(text).toMatch(/\n {2}missing\s+0 /);
    expect(renderListing(report, { all: false })).toBe('  seq 2000-14399  (12,400 chunks not produced: the run stopped before them)');
    expect(renderHtml(report, [])).toContain(
      '<div class="verdict stopped">INTERRUPTED after 2,000 of 14,400 scheduled chunks: of those, 2,000 verified, 0 lost, 0 corrupted</div>',
    );
    const error = verdictErrorFor(report);
    expect(error?.exitCode).toBe(4);
    expect(error?.message).toBe(
      'rehearsal run stopped is incomplete (exit 4: stopped early, nothing it produced was lost): ' +
        'interrupted after 2,000 of 14,400 scheduled chunks: of those, 2,000 verified, 0 lost, 0 corrupted; rerun it to the end for a pass',
    );
  });

  it('counts the chunks uploaded just before the downloader stopped as in flight, not lost', async () => {
    // The downloader stops 3 s after the last upload; verification takes 5-7.6 s after upload.
    await writeSyntheticRun({ logDir: scratch.path, run: 'inflight', chunks: 100, interruptAfter: 40, downloadStopsAfterMs: 3000 });
    const report = await buildReport([scratch.path]);
    const { inFlight, missing, verified } = report.integrity;
    expect(inFlight).toBeGreaterThan(0);
    expect(missing).toBe(0);
    expect(verified + inFlight).toBe(40);
    expect(report.verdict.state).toBe('interrupted');
    expect(report.verdict.summary).toBe(`interrupted after 40 of 100 scheduled chunks: of those, ${verified} verified, 0 lost, 0 corrupted, ${inFlight} in flight at the stop`);
    expect(report.lists.inFlight).toHaveLength(inFlight);
    expect(renderListing(report, { all: false })).toBe('  seq 40-99  (60 chunks not produced: the run stopped before them)');
    expect(renderListing(report, { all: true }).split('\n').filter((line) => line.startsWith('~'))[0]).toMatch(/^~ V-V1_WAVEFIER-\d+-1\.hdf5 {2}\(in flight: uploaded, not yet downloaded when the run stopped\)$/);
    expect(renderText(report)).toMatch(/\n {2}in flight\s+\d+ {2}uploaded, not yet downloaded when the run stopped\n/);
    expect(reportToJson(report)).toMatchObject({ ok: false, verdict: { state: 'interrupted', exit_code: 4 }, integrity: { in_flight: inFlight }, completion: { state: 'interrupted' } });
  });

  it('still fails with exit 3 when a chunk produced before the stop is lost or corrupted', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'lossy', chunks: 14_400, interruptAfter: 2000, missing: [100], corrupted: [200] });
    const report = await buildReport([scratch.path]);
    expect(report.verdict).toEqual({
      ok: false,
      state: 'fail',
      exitCode: 3,
      summary: '1 chunk missing, 1 corrupted; interrupted after 2,000 of 14,400 scheduled chunks: of those, 1,998 verified, 1 lost, 1 corrupted',
    });
    expect(verdictLine(report)).toMatch(/^FAIL: 1 chunk missing, 1 corrupted; interrupted after 2,000/);
    expect(verdictErrorFor(report)?.exitCode).toBe(3);
    expect(renderListing(report, { all: false }).split('\n')).toEqual([
      '- V-V1_WAVEFIER-1400000100-1.hdf5  (never downloaded)',
      '* V-V1_WAVEFIER-1400000200-1.hdf5  (corrupted in 1 read(s))',
      '  seq 2000-14399  (12,400 chunks not produced: the run stopped before them)',
    ]);
  });

  it('counts a chunk uploaded long before the downloader stopped and never seen as lost', async () => {
    await writeLog(scratch.path, 'upload.jsonl', [
      runStarted(100),
      uploaded(0, 100),
      uploaded(1, 100),
      uploaded(57, 100),
      runFinished('upload', { reason: 'interrupted', time: t0 + 60_000 }),
    ]);
    // Chunk 1 (uploaded at +1.1 s) is still unseen when the downloader stops at +60 s: the longest
    // upload-to-verified time of the run is 0.2 s, so 5.4 s of grace do not cover it. Chunk 57 was
    // uploaded at +57.1 s: in flight.
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 300), runFinished('download', { reason: 'interrupted', time: t0 + 60_000 })]);
    const fix = await buildReport([scratch.path]);
    expect(fix.completion).toMatchObject({ state: 'interrupted', downloadStoppedAt: t0 + 60_000, graceMs: 5400 });
    expect(fix.lists.missing).toEqual(['V-V1_TEST-1400000001-1.hdf5']);
    expect(fix.lists.inFlight).toEqual(['V-V1_TEST-1400000057-1.hdf5']);
    expect(fix.verdict.state).toBe('fail');
  });

  it('calls a run whose upload log ends without run_finished UNFINISHED (killed, or still running)', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'killed', chunks: 50, interruptAfter: 20, unfinished: 'upload' });
    const report = await buildReport([scratch.path]);
    expect(report.completion).toMatchObject({ state: 'interrupted', upload: 'unfinished', download: 'interrupted' });

    const live = join(scratch.path, 'live');
    await writeLog(live, 'upload.jsonl', [runStarted(10), uploaded(0, 100), uploaded(1, 100)]);
    await writeLog(live, 'download.jsonl', [verified(0, 300), verified(1, 400)]);
    const peek = await buildReport([live]);
    expect(peek.completion).toMatchObject({ state: 'unfinished', upload: 'unfinished', download: 'none' });
    expect(peek.verdict).toMatchObject({ state: 'unfinished', exitCode: 4 });
    expect(verdictLine(peek)).toBe(
      'UNFINISHED (upload log ends without run_finished: still running, or killed) after 2 of 10 scheduled chunks: of those, 2 verified, 0 lost, 0 corrupted',
    );
  });

  it('takes the last run event of each side, so that a resumed run that finished is complete', async () => {
    await writeLog(scratch.path, 'upload.jsonl', [
      runStarted(2),
      uploaded(0, 100),
      runFinished('upload', { reason: 'interrupted', time: t0 + 5000 }),
      runStarted(2).replace(`"time":${t0}`, `"time":${t0 + 9000}`),
      uploaded(1, 100),
      runFinished('upload', { time: t0 + 20_000 }),
    ]);
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 300), verified(1, 300), runFinished('download', { reason: 'dataset closed', time: t0 + 21_000 })]);
    const report = await buildReport([scratch.path]);
    expect(report.completion).toMatchObject({ state: 'complete', upload: 'finished', download: 'finished' });
    expect(report.verdict).toMatchObject({ state: 'pass', exitCode: 0, ok: true });
  });

  it('says so when a run was stopped before it produced anything, and prints no empty latency table', async () => {
    await writeLog(scratch.path, 'upload.jsonl', [runStarted(200), runFinished('upload', { reason: 'interrupted' })]);
    await writeLog(scratch.path, 'download.jsonl', [runFinished('download', { reason: 'interrupted' })]);
    const report = await buildReport([scratch.path]);
    expect(verdictLine(report)).toBe('INTERRUPTED before any chunk was produced (0 of 200 scheduled chunks)');
    expect(report.verdict.exitCode).toBe(4);
    expect(renderText(report)).toContain('\n\nlatency: no chunk has upload or download times\n\n');
  });

  it('keeps a complete run with scheduled chunks in no log a failure, with the seqs as ranges', async () => {
    await writeLog(scratch.path, 'upload.jsonl', [runStarted(8), uploaded(0, 100), uploaded(4, 100), runFinished('upload')]);
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 300), verified(4, 300), runFinished('download')]);
    const report = await buildReport([scratch.path]);
    expect(report.verdict).toMatchObject({ state: 'fail', exitCode: 3, summary: '6 chunks scheduled but in no log (2 of 8 scheduled chunks verified)' });
    expect(renderText(report)).toContain('\nin no log (6 scheduled chunks):\n  seq 1-3, 5-7\n');
    expect(renderListing(report, { all: false })).toBe('- seq 1-3, 5-7  (6 chunks scheduled, in no log)');
  });
});
