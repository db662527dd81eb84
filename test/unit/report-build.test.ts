import { chmod, utimes } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError, NotFoundError } from '../../src/common/errors.js';
import { buildReport, maxMalformedKept, renderText, reportExitCode, reportNotes, verdictLine, type Report } from '../../src/report/index.js';
import { writeSyntheticRun } from '../../tools/fixtures/synthetic-logs.js';
import { chunk, corrupted, pinoLine, run, runFinished, runStarted, t0, uploaded, verified, writeLog } from '../fixtures/report/log-lines.js';
import { scratchDirPerTest } from '../helpers/scratch.js';

const scratch = scratchDirPerTest('wavefier-report-');

function statuses(report: Report): string[] {
  return report.listing.map((entry) => `${entry.status} ${entry.seq}`);
}

describe('report integrity', () => {
  it('calls a complete run clean, with the slide sentence and exit code 0', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'clean', chunks: 30, noiseEvery: 7 });
    const report = await buildReport([scratch.path]);
    expect(report.integrity).toMatchObject({
      scheduled: 30,
      scheduledSource: 'run_started',
      uploaded: 30,
      downloaded: 30,
      verified: 30,
      missing: 0,
      corrupted: 0,
      failedUploads: 0,
      unaccounted: 0,
    });
    expect(report.malformed).toEqual([]);
    expect(report.verdict.ok).toBe(true);
    expect(report.verdict.summary).toMatch(/^all 30 chunks uploaded, all downloaded, none corrupted; upload latency median [\d.]+ -[\d.]+ \+[\d.]+ s \(mean [\d.]+ s\), total median [\d.]+ s$/);
    expect(reportExitCode(report)).toBe(0);
    // Diagnostics and unknown events are ignored, not errors.
    expect(report.files.reduce((sum, file) => sum + file.ignored, 0)).toBeGreaterThan(0);
  });

  it('counts every kind of fault and lists chunks rclone-style', async () => {
    await writeSyntheticRun({
      logDir: scratch.path,
      run: 'faulty',
      chunks: 40,
      missing: [3, 4],
      corrupted: [7],
      recovered: [9],
      failedUploads: [11],
      skipped: [
        { seq: 13, reason: 'gap' },
        { seq: 14, reason: 'gap' },
        { seq: 15, reason: 'late' },
      ],
      late: [20, 21],
      duplicateUploads: [25],
    });
    const report = await buildReport([join(scratch.path, 'faulty')]);
    expect(report.integrity).toMatchObject({
      scheduled: 40,
      uploaded: 40 - 1 - 3,
      failedUploads: 1,
      skipped: 3,
      skippedByReason: { gap: 2, late: 1 },
      late: 2,
      downloaded: 36 - 2,
      verified: 36 - 2 - 1,
      corruptedReads: 2,
      chunksWithCorruptedRead: 2,
      corrupted: 1,
      recovered: 1,
      missing: 2,
      duplicateUploads: 1,
      duplicateVerifications: 0,
      notInUploadLog: 0,
      unaccounted: 0,
    });
    expect(report.lists.missing).toEqual([chunkName(3), chunkName(4)]);
    expect(report.lists.corrupted).toEqual([chunkName(7)]);
    expect(report.lists.recovered).toEqual([chunkName(9)]);
    expect(report.lists.failedUploads).toEqual([{ name: chunkName(11), error: 'storage PUT: 503 Slow Down (5 attempts)' }]);
    expect(report.lists.duplicateUploads).toEqual([chunkName(25)]);
    expect(statuses(report).filter((line) => !line.startsWith('='))).toEqual(['- 3', '- 4', '* 7', '! 11']);
    // Skipped chunks are deliberate: not in the listing, not a failure.
    expect(report.listing.some((entry) => entry.seq === 13)).toBe(false);
    expect(report.verdict).toEqual({ ok: false, state: 'fail', summary: '2 chunks missing, 1 corrupted, 1 failed to upload (33 of 40 scheduled chunks verified)', exitCode: 3 });
  });

  it('treats a chunk verified and later found corrupted as corrupted, and corrupted-then-verified as recovered', async () => {
    await writeLog(scratch.path, 'upload.jsonl', [runStarted(2), uploaded(0, 100), uploaded(1, 100)]);
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 500), corrupted(0, 900), corrupted(1, 400), verified(1, 800)]);
    const report = await buildReport([scratch.path]);
    expect(statuses(report)).toEqual(['* 0', '= 1']);
    expect(report.integrity).toMatchObject({ corrupted: 1, recovered: 1, corruptedReads: 2, chunksWithCorruptedRead: 2, verified: 1, missing: 0 });
    // Total latency comes from the first verification, including the time lost to the bad replica.
    expect(report.latency.total).toMatchObject({ count: 2, min: 500, max: 800 });
  });

  it('orders download events by their own times, not by file order, to find the final state', async () => {
    await writeLog(scratch.path, 'upload.jsonl', [runStarted(1), uploaded(0, 100)]);
    // A second downloader host logged the earlier corruption after the first host's verification.
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 900)]);
    await writeLog(scratch.path, 'download-host2.jsonl', [corrupted(0, 400)]);
    const report = await buildReport([scratch.path]);
    expect(statuses(report)).toEqual(['= 0']);
    expect(report.integrity.recovered).toBe(1);
  });

  it('falls back to the highest seq + 1 and names the scheduled chunks that are in no log', async () => {
    await writeLog(scratch.path, 'upload.jsonl', [uploaded(0, 100), uploaded(1, 100), uploaded(4, 100)]);
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 300), verified(1, 300), verified(4, 300)]);
    const report = await buildReport([scratch.path]);
    expect(report.integrity).toMatchObject({ scheduled: 5, scheduledSource: 'highest-seq', unaccounted: 2 });
    expect(report.lists.unaccountedSeqs).toEqual([2, 3]);
    expect(report.verdict.summary).toBe('2 chunks scheduled but in no log (3 of 5 scheduled chunks verified)');
  });

  it('counts a chunk whose upload only retried as in flight when the uploader stopped early, as a failed upload in a complete run', async () => {
    const retried = pinoLine({ event: 'retry', ...chunk(0), t_avail: t0, attempts: 1, error: 'catalog 503' });
    await writeLog(scratch.path, 'upload.jsonl', [runStarted(1), retried]);
    await writeLog(scratch.path, 'download.jsonl', []);
    const stopped = await buildReport([scratch.path]);
    expect(stopped.integrity).toMatchObject({ failedUploads: 0, inFlight: 1 });
    expect(statuses(stopped)).toEqual(['~ 0']);
    expect(stopped.verdict.state).toBe('unfinished');

    await writeLog(scratch.path, 'upload.jsonl', [runStarted(1), retried, runFinished('upload')]);
    await writeLog(scratch.path, 'download.jsonl', [runFinished('download')]);
    const complete = await buildReport([scratch.path]);
    expect(complete.integrity.failedUploads).toBe(1);
    expect(complete.lists.failedUploads[0]?.error).toMatch(/no final event after 1 retries.*catalog 503/);
    expect(statuses(complete)).toEqual(['! 0']);
  });

  it('joins download events without a seq (bytes that did not decode) by name', async () => {
    await writeLog(scratch.path, 'upload.jsonl', [runStarted(2), uploaded(0, 100), uploaded(1, 100)]);
    const { seq: _seq, ...identity } = chunk(1);
    await writeLog(scratch.path, 'download.jsonl', [
      verified(0, 300),
      // As the downloader writes a final failure: no seq, no t_avail.
      pinoLine({ event: 'failed', ...identity, t_detected: t0 + 1500, attempts: 3, error: 'GET 503' }),
    ]);
    const report = await buildReport([scratch.path]);
    expect(report.malformed).toEqual([]);
    expect(report.listing.map((entry) => [entry.status, entry.seq, entry.detail])).toEqual([
      ['=', 0, undefined],
      ['-', 1, 'download failed: GET 503'],
    ]);
    expect(report.integrity).toMatchObject({ missing: 1, downloadFailures: 1, unaccounted: 0 });
  });

  it('keeps what each writer counted at run_finished as written, without adding resumed runs up', async () => {
    const finished = (uploadedSoFar: number): string => pinoLine({ event: 'run_finished', run, side: 'upload', counts: { uploaded: uploadedSoFar }, reason: 'done' });
    await writeLog(scratch.path, 'upload.jsonl', [runStarted(2), uploaded(0, 100), finished(1), runStarted(2), uploaded(1, 100), finished(2)]);
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 300), verified(1, 300)]);
    const report = await buildReport([scratch.path]);
    expect(report.run.writerCounts).toEqual([
      { side: 'upload', counts: { uploaded: 1 }, reason: 'done' },
      { side: 'upload', counts: { uploaded: 2 }, reason: 'done' },
    ]);
    expect(report.integrity.scheduled).toBe(2);
  });

  it('counts chunks verified twice as duplicates without failing the run', async () => {
    await writeLog(scratch.path, 'upload.jsonl', [runStarted(1), uploaded(0, 100), runFinished('upload')]);
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 300), verified(0, 700)]);
    const report = await buildReport([scratch.path]);
    expect(report.integrity.duplicateVerifications).toBe(1);
    expect(report.verdict.ok).toBe(true);
    expect(report.latency.total?.max).toBe(300);
  });

  it('gives no verdict for an upload log without events, instead of calling it clean', async () => {
    await writeLog(scratch.path, 'upload.jsonl', [pinoLine({ msg: 'starting' })]);
    const report = await buildReport([scratch.path]);
    expect(report.verdict).toMatchObject({ ok: false, state: 'no-verdict', exitCode: 5 });
    expect(report.warnings.join('\n')).toMatch(/upload\.jsonl names no upload run .*: not read/);
  });

  it('gives no verdict when nothing was uploaded: every chunk skipped (an all-NaN source)', async () => {
    const skipped = (seq: number): string => pinoLine({ event: 'skipped', ...chunk(seq), t_avail: t0 + seq * 1000, reason: 'gap', error: 'NaN' });
    await writeLog(scratch.path, 'upload.jsonl', [runStarted(3), skipped(0), skipped(1), skipped(2), runFinished('upload')]);
    await writeLog(scratch.path, 'download.jsonl', [runFinished('download')]);
    const report = await buildReport([scratch.path]);
    expect(report.integrity).toMatchObject({ scheduled: 3, uploaded: 0, skipped: 3 });
    expect(report.verdict).toEqual({
      ok: false,
      state: 'no-verdict',
      summary: 'nothing was uploaded: 3 scheduled chunks, 3 skipped (gap 3); a rehearsal without chunks proves nothing',
      exitCode: 5,
    });
    expect(verdictLine(report)).toMatch(/^NO VERDICT: nothing was uploaded/);
  });
});

function chunkName(seq: number): string {
  return `V-V1_WAVEFIER-${1_400_000_000 + seq}-1.hdf5`;
}

describe('report latency', () => {
  it('computes each latency from the first successful event of the chunk', async () => {
    await writeLog(scratch.path, 'upload.jsonl', [
      runStarted(3),
      uploaded(0, 1000, { t_enqueued: t0 + 2 }),
      uploaded(1, 2000, { t_enqueued: t0 + 1000 + 4 }),
      uploaded(2, 3000, { t_enqueued: t0 + 2000 + 6 }),
      // A duplicate, later success must not count.
      uploaded(2, 9000),
    ]);
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 5000), verified(1, 6000), verified(2, 7000)]);
    const report = await buildReport([scratch.path]);
    expect(report.latency.pacingError).toMatchObject({ count: 3, mean: 4, median: 4, max: 6 });
    expect(report.latency.upload).toMatchObject({ count: 3, mean: 2000, median: 2000, min: 1000, max: 3000 });
    // detection = t_detected - t_uploaded = (total - 10) - upload
    expect(report.latency.detection).toMatchObject({ count: 3, mean: 3990, min: 3990, max: 3990 });
    expect(report.latency.total).toMatchObject({ count: 3, mean: 6000, median: 6000 });
    expect(report.latency.total?.p16).toBeCloseTo(5320, 9);
    expect(report.latency.total?.p84).toBeCloseTo(6680, 9);
  });

  it('uses the chunks\' own t_avail when there is no upload log, and gives no verdict (never a PASS)', async () => {
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 4000), verified(1, 6000)]);
    const report = await buildReport([scratch.path]);
    expect(report.latency.total).toMatchObject({ count: 2, mean: 5000 });
    expect(report.latency.upload).toBeNull();
    expect(report.warnings.join('\n')).toMatch(/no upload log/);
    expect(report.integrity).toMatchObject({ verified: 2, notInUploadLog: 0, missing: 0 });
    expect(report.run).toMatchObject({ id: run, selectedBy: 'none', candidates: [] });
    expect(report.verdict).toMatchObject({ ok: false, state: 'no-verdict', exitCode: 5 });
    expect(report.verdict.summary).toBe(
      `no upload log of run ${run}: without it nobody can say which chunks should have arrived (the download logs alone show 2 verified, 0 corrupted, 0 invalid, 0 failed); pass the upload side's --log-dir too`,
    );
    // --run names the upload run even when only its chunks (in the download log) name it.
    expect((await buildReport([scratch.path], { runId: run })).verdict.state).toBe('no-verdict');
  });

  it('gives no verdict when there is no download log, rather than calling every chunk missing', async () => {
    await writeLog(scratch.path, 'upload.jsonl', [runStarted(2), uploaded(0, 100), uploaded(1, 100)]);
    const report = await buildReport([scratch.path]);
    expect(report.warnings.join('\n')).toMatch(/no download log/);
    expect(report.latency.total).toBeNull();
    expect(report.verdict).toMatchObject({ ok: false, state: 'no-verdict', exitCode: 5 });
    expect(report.verdict.summary).toMatch(/^no download log of run run-a's dataset: without it nobody can say whether the 2 uploaded chunks arrived/);
  });

  it('cuts the run into windows by t_avail so that a degradation shows', async () => {
    const lines = [runStarted(30)];
    const down: string[] = [];
    for (let seq = 0; seq < 30; seq++) {
      lines.push(uploaded(seq, seq < 20 ? 100 : 900));
      down.push(verified(seq, seq < 20 ? 1000 : 5000));
    }
    await writeLog(scratch.path, 'upload.jsonl', lines);
    await writeLog(scratch.path, 'download.jsonl', down);
    const report = await buildReport([scratch.path], { windowMs: 10_000 });
    expect(report.windows.origin).toBe(t0);
    expect(report.windows.items.map((window) => [window.index, window.chunks, window.latency.upload?.median, window.latency.total?.p99])).toEqual([
      [0, 10, 100, 1000],
      [1, 10, 100, 1000],
      [2, 10, 900, 5000],
    ]);
  });

  it('starts the windows at the first chunk when it is stamped before t0, so no window lies before the run', async () => {
    await writeLog(scratch.path, 'upload.jsonl', [runStarted(2), uploaded(0, 100, { t_avail: t0 - 5 }), uploaded(1, 100), runFinished('upload')]);
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 300), verified(1, 300)]);
    const report = await buildReport([scratch.path], { windowMs: 600_000 });
    expect(report.windows.origin).toBe(t0 - 5);
    expect(report.windows.items.map((window) => [window.index, window.chunks])).toEqual([[0, 2]]);
    expect(renderText(report)).not.toContain('latency over time');
  });

  it('warns when clocks disagree (negative latencies), not when a busy uploader stamped a chunk late', async () => {
    // Chunk 0 seen 200 ms before its upload was stamped (one clock, a loaded uploader); chunk 1 4.7 s before.
    await writeLog(scratch.path, 'upload.jsonl', [runStarted(2), uploaded(0, 500), uploaded(1, 5000)]);
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 300), verified(1, 300)]);
    const report = await buildReport([scratch.path]);
    const warnings = report.warnings.join('\n');
    expect(warnings).toMatch(/(?:^|\n)1 detection delay below -1\.00 s: the clocks of the hosts disagree \(check NTP\)(?:$|\n)/);
  });
});

describe('report log reading', () => {
  it('reports malformed and truncated lines by file:line and still reports the rest', async () => {
    await writeLog(
      scratch.path,
      'upload.jsonl',
      [
        runStarted(3),
        uploaded(0, 100),
        '{"level":30,"event":"uploaded", oops',
        pinoLine({ event: 'uploaded', ...chunk(1), seq: -1, t_avail: t0 }),
        pinoLine({ event: 'heartbeat', run }),
        '[1,2,3]',
        uploaded(1, 100),
        uploaded(2, 100).slice(0, 40),
      ],
      { cut: true },
    );
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 300), verified(1, 300), pinoLine({ event: 'verified', ...chunk(2), adler32: 'XYZ' })]);
    const report = await buildReport([scratch.path]);
    const where = report.malformed.map((line) => `${line.file.endsWith('upload.jsonl') ? 'up' : 'down'}:${line.line}`);
    // Upload logs are read first: they say which chunks the run has.
    expect(where).toEqual(['up:3', 'up:4', 'up:6', 'up:8', 'down:3']);
    const reasons = report.malformed.map((line) => line.reason);
    expect(reasons[4]).toMatch(/^download 'verified' event does not match its schema: .*adler32/);
    expect(reasons[0]).toMatch(/^not valid JSON/);
    expect(reasons[1]).toMatch(/^upload 'uploaded' event does not match its schema: seq:/);
    expect(reasons[2]).toBe('not a JSON object');
    expect(reasons[3]).toMatch(/^truncated last line \(no final newline/);
    expect(report.integrity).toMatchObject({ uploaded: 2, verified: 2, missing: 0, unaccounted: 1 });
    expect(report.files.find((file) => file.side === 'upload')).toMatchObject({ lines: 8, chunkEvents: 2, runEvents: 1, ignored: 1, malformed: 4 });
  });

  it('merges the logs of several hosts given as several directories', async () => {
    const hostA = join(scratch.path, 'ego');
    const hostB = join(scratch.path, 'cnaf');
    await writeLog(hostA, 'upload.jsonl', [runStarted(4), uploaded(0, 100), uploaded(2, 100), runFinished('upload')]);
    await writeLog(hostA, 'upload-worker2.jsonl', [uploaded(1, 100), uploaded(3, 100)]);
    await writeLog(hostB, 'download.jsonl', [0, 1, 2, 3].map((seq) => verified(seq, 400)));
    const merged = await buildReport([hostA, hostB]);
    expect(merged.files).toHaveLength(3);
    expect(merged.integrity).toMatchObject({ uploaded: 4, verified: 4, notInUploadLog: 0 });
    expect(merged.verdict.ok).toBe(true);

    // Without the second upload log the downloaded chunks show up as not in the upload log.
    const partial = await buildReport([join(hostA, run, 'upload.jsonl'), join(hostB, run)]);
    expect(partial.integrity.notInUploadLog).toBe(2);
    expect(statuses(partial)).toEqual(['= 0', '+ 1', '= 2', '+ 3']);
    expect(partial.warnings.join('\n')).toMatch(/2 chunks downloaded but not in the upload logs/);
  });

  it('picks the most recent run of a log scratch.path, or the one asked for', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'new', chunks: 5, t0: t0 + 86_400_000 });
    await writeSyntheticRun({ logDir: scratch.path, run: 'old', chunks: 3, t0 });
    // The logs say when each run started; file times (reset by copying) do not decide.
    const past = new Date(Date.now() - 3_600_000);
    for (const file of ['upload.jsonl', 'download.jsonl']) await utimes(join(scratch.path, 'new', file), past, past);
    const latest = await buildReport([scratch.path]);
    expect(latest.run).toMatchObject({ id: 'new', selectedBy: 'most-recent', candidates: ['new', 'old'], recordRuns: ['new'] });
    expect(latest.integrity.scheduled).toBe(5);
    const chosen = await buildReport([scratch.path], { runId: 'old' });
    expect(chosen.run).toMatchObject({ id: 'old', selectedBy: 'flag' });
    expect(chosen.integrity.scheduled).toBe(3);
    await expect(buildReport([scratch.path], { runId: 'nope' })).rejects.toThrow(NotFoundError);
    await expect(buildReport([scratch.path], { runId: 'nope' })).rejects.toThrow(/run 'nope' is not in the given log directories \(neither in an upload log nor in a downloaded chunk\); upload runs found: new, old/);
  });

  it('says clearly when a path does not exist or holds no logs', async () => {
    await expect(buildReport([join(scratch.path, 'absent')])).rejects.toThrow(InputError);
    await expect(buildReport([scratch.path])).rejects.toThrow(/no upload\*\.jsonl or download\*\.jsonl in/);
    await expect(buildReport([scratch.path])).rejects.toThrow(InputError);
  });
});

describe('report unreadable log', () => {
  // root reads any file, so the failure cannot be provoked there.
  it.skipIf(process.getuid?.() === 0)('names the file it cannot read', async () => {
    const path = await writeLog(scratch.path, 'upload.jsonl', [runStarted(1), uploaded(0, 100)]);
    await chmod(path, 0o000);
    await expect(buildReport([scratch.path])).rejects.toThrow(/cannot read log file .*upload\.jsonl: .*check that it exists and is readable/);
  });
});

describe('report of a garbage log', () => {
  it('keeps the first malformed lines with their reasons and counts them all', async () => {
    const garbage = Array.from({ length: maxMalformedKept + 500 }, (_, index) => `garbage ${index}`);
    await writeLog(scratch.path, 'upload.jsonl', [runStarted(1), uploaded(0, 100), ...garbage, runFinished('upload')]);
    await writeLog(scratch.path, 'download.jsonl', [verified(0, 300)]);
    const report = await buildReport([scratch.path]);
    expect(report.malformed).toHaveLength(maxMalformedKept);
    expect(report.malformedCount).toBe(maxMalformedKept + 500);
    expect(report.malformed[0]).toMatchObject({ line: 3 });
    const notes = reportNotes(report, 2);
    expect(notes).toHaveLength(3);
    expect(notes[0]).toMatch(/upload\.jsonl:3: not valid JSON/);
    expect(notes[2]).toBe('... 1,498 more malformed lines (--json lists the first 1,000)');
    expect(report.verdict.ok).toBe(true);
  });
});

describe('report progress', () => {
  it('calls back every N lines of each file', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'p', chunks: 10 });
    const calls: string[] = [];
    await buildReport([scratch.path], { progressEveryLines: 5, onProgress: (file, lines) => calls.push(`${basename(file)}:${lines}`) });
    // 12 lines per file: the run events and 10 chunk events; upload logs first.
    expect(calls).toEqual(['upload.jsonl:5', 'upload.jsonl:10', 'download.jsonl:5', 'download.jsonl:10']);
  });
});
