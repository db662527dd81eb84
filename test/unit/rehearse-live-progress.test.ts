import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSyntheticRun } from '../../tools/fixtures/synthetic-logs.js';
import { LiveProgress } from '../../src/rehearse/live-progress.js';
import { progressEvent, renderBlock, renderLine } from '../../src/rehearse/live-view.js';
import { buildReport } from '../../src/report/index.js';
import { ChunkLedger } from '../../src/report/chunk-ledger.js';
import { classifyLogLine } from '../../src/report/log-reader.js';
import { scratchDirPerTest } from '../helpers/scratch.js';

const scratch = scratchDirPerTest('live-progress');

describe('the live view counts as the report does', () => {
  it('read while the logs grow (lines cut mid-way included), it ends with the report\'s counts and close percentiles', async () => {
    const source = await writeSyntheticRun({ logDir: join(scratch.path, 'source'), run: 'live-run', chunks: 200, missing: [3, 90], corrupted: [5], failedUploads: [7], skipped: [{ seq: 9, reason: 'gap' }] });
    const report = await buildReport([source.runDir], { runId: 'live-run' });
    const uploadText = await readFile(source.uploadFiles[0] ?? '', 'utf8');
    const downloadText = await readFile(source.downloadFile ?? '', 'utf8');

    const live = join(scratch.path, 'live');
    const files = { upload: join(live, 'upload.jsonl'), download: join(live, 'download.jsonl') };
    await mkdir(live, { recursive: true });
    const progress = new LiveProgress('live-run', files, { scheduled: 200, intervalMs: 1000 }, () => Date.parse('2030-01-01T00:00:00Z'));
    // Nothing written yet: all zero, nothing missing.
    expect(await progress.poll()).toMatchObject({ produced: 0, uploaded: 0, verified: 0, missing: 0, finished: false });
    // Half of each log, the upload's cut in the middle of a line.
    const cut = Math.floor(uploadText.length / 2) + 7;
    await writeFile(files.upload, uploadText.slice(0, cut));
    await writeFile(files.download, downloadText.slice(0, Math.floor(downloadText.length / 2)));
    const half = await progress.poll();
    expect(half.uploaded).toBeGreaterThan(50);
    expect(half.uploaded).toBeLessThan(200);
    await appendFile(files.upload, uploadText.slice(cut));
    await appendFile(files.download, downloadText.slice(Math.floor(downloadText.length / 2)));
    const end = await progress.poll();

    const { integrity, latency } = report;
    expect(end).toMatchObject({
      finished: true,
      scheduled: 200,
      produced: 200,
      uploaded: integrity.uploaded,
      failed: integrity.failedUploads,
      skipped: integrity.skipped,
      verified: integrity.verified,
      corrupted: integrity.corrupted + integrity.invalid,
      missing: integrity.missing,
      uploadQueue: 0,
      downloadQueue: 0,
      etaMs: 0,
    });
    expect(end.missing).toBe(2);
    const near = (live: number | undefined, exact: number | undefined): void => expect(Math.abs((live ?? Number.NaN) - (exact ?? Number.NaN)) / (exact ?? 1)).toBeLessThan(0.01);
    near(end.upload.p50Ms, latency.upload?.median);
    near(end.download.p50Ms, latency.total?.median);

    const block = renderBlock('live-run', end, 0);
    expect(block).toHaveLength(8);
    expect(block[0]).toMatch(/^rehearsal live-run .* done$/);
    expect(block[2]).toMatch(/^ {2}produced +200 of 200 +verified +\d+$/);
    expect(renderLine(end, 0)).toMatch(/^progress .*: upload 200\/200 produced, \d+ uploaded, 1 failed, 1 skipped, queue 0, .*; download \d+ verified, 1 corrupted, 2 missing, queue 0, .*ETA under 1 s$/);
    expect(progressEvent('live-run', end, 0)).toMatchObject({ event: 'progress', run: 'live-run', produced: 200, missing: 2, corrupted: 1, eta_ms: 0 });
  });

  it('counts a chunk the download verified before the upload log said it was uploaded only once that line comes: never more verified than uploaded', async () => {
    const source = await writeSyntheticRun({ logDir: join(scratch.path, 'source'), run: 'race-run', chunks: 20 });
    const uploadLines = (await readFile(source.uploadFiles[0] ?? '', 'utf8')).split('\n').filter((line) => line !== '');
    const downloadText = await readFile(source.downloadFile ?? '', 'utf8');
    const live = join(scratch.path, 'live');
    const files = { upload: join(live, 'upload.jsonl'), download: join(live, 'download.jsonl') };
    await mkdir(live, { recursive: true });
    const progress = new LiveProgress('race-run', files, { scheduled: 20, intervalMs: 1000 }, () => Date.parse('2030-01-01T00:00:00Z'));
    // The whole download log, but the upload log only up to its 10th chunk outcome (and no run_finished).
    const outcomes = uploadLines.filter((line) => /"event":"uploaded"/.test(line));
    const tenth = uploadLines.indexOf(outcomes[9] ?? '');
    await writeFile(files.upload, uploadLines.slice(0, tenth + 1).join('\n') + '\n');
    await writeFile(files.download, downloadText);
    const early = await progress.poll();
    expect(early.uploaded).toBe(10);
    expect(early.verified).toBeLessThanOrEqual(early.uploaded);
    expect(early.verified).toBe(10);
    await appendFile(files.upload, uploadLines.slice(tenth + 1).join('\n') + '\n');
    const end = await progress.poll();
    expect(end).toMatchObject({ finished: true, uploaded: 20, verified: 20, missing: 0 });
  });
});

describe("the live view's counts-only ledger summary", () => {
  it('counts exactly what the full summary counts, for a run with every kind of chunk, read in part and in full, at any time', async () => {
    const source = await writeSyntheticRun({
      logDir: join(scratch.path, 'kinds'),
      run: 'kinds-run',
      chunks: 120,
      missing: [3, 90],
      corrupted: [5],
      recovered: [6, 40],
      failedUploads: [7],
      skipped: [{ seq: 9, reason: 'gap' }],
      late: [11],
      duplicateUploads: [12],
      downloadStopsAfterMs: 80_000,
    });
    const lines = {
      upload: (await readFile(source.uploadFiles[0] ?? '', 'utf8')).split('\n'),
      download: (await readFile(source.downloadFile ?? '', 'utf8')).split('\n'),
    };
    // Two more kinds: verified then found corrupted (not delivered), and verified although its upload failed.
    const verifiedLine = (seq: number): Record<string, unknown> => {
      const found = lines.download.map((text) => (text.trim() === '' ? {} : (JSON.parse(text) as Record<string, unknown>))).find((record) => record.event === 'verified' && record.seq === seq);
      if (found === undefined) throw new Error(`no verified line for seq ${seq}`);
      return found;
    };
    const later = verifiedLine(20);
    lines.download.push(JSON.stringify({ ...later, event: 'corrupted', t_verified: undefined, t_downloaded: (later.t_verified as number) + 5_000, time: (later.time as number) + 5_000 }));
    const failed = verifiedLine(8);
    // Joined on run and seq: chunk 7's upload failed for good, yet this line says it was verified.
    lines.download.push(JSON.stringify({ ...failed, seq: 7 }));
    for (const share of [0.3, 0.7, 1]) {
      const ledger = new ChunkLedger('kinds-run');
      let order = 0;
      for (const side of ['upload', 'download'] as const) {
        for (const text of lines[side].slice(0, Math.floor(lines[side].length * share))) {
          const line = classifyLogLine(side, text);
          if (line.kind === 'upload') ledger.uploadChunk(line.event);
          else if (line.kind === 'download') ledger.downloadChunk(line.event, order++);
          else if (line.kind === 'run') ledger.runEvent(line.event, line.time, order++);
        }
      }
      const full = ledger.finish(true, true);
      for (const asOf of [undefined, full.completion.downloadStoppedAt, Date.parse('2030-01-01T00:00:00Z')]) {
        const counted = ledger.finish(true, true, asOf, true);
        const whole = ledger.finish(true, true, asOf);
        expect(counted.integrity).toEqual(whole.integrity);
        expect(counted.completion).toEqual(whole.completion);
        expect(counted.listing).toEqual([]);
        expect(counted.samples.total).toHaveLength(0);
      }
      if (share === 1) expect(full.integrity).toMatchObject({ missing: 2, corrupted: 2, recovered: 2, failedUploads: 1, skipped: 1, late: 1, duplicateUploads: 1 });
    }
  });
});
