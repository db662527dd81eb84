import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport, renderListing, renderText, verdictLine } from '../../src/report/index.js';
import { pinoLine, t0, writeLog } from '../fixtures/report/log-lines.js';
import { scratchDirPerTest } from '../helpers/scratch.js';

/**
 * The report joins logs by what the chunks say about themselves (upload run id + seq, else the DID),
 * from any folders: these logs are laid out as two sites write them, with names that say nothing.
 */

const scratch = scratchDirPerTest('wavefier-report-');

const scope = 'wavefier';
const dataset = 'my-rehearsal';

function name(run: string, seq: number): string {
  return `V-V1_${run.toUpperCase()}-${1_400_000_000 + seq}-1.hdf5`;
}

function uploadLog(run: string, seqs: readonly number[], options: { dataset?: string; skipped?: readonly number[] } = {}): string[] {
  const ds = options.dataset ?? dataset;
  const chunkLines = seqs.map((seq) =>
    pinoLine({ event: 'uploaded', run, seq, name: name(run, seq), scope, dataset: ds, t_avail: t0 + seq * 1000, t_enqueued: t0 + seq * 1000 + 1, t_uploaded: t0 + seq * 1000 + 50 }),
  );
  const skipLines = (options.skipped ?? []).map((seq) => pinoLine({ event: 'skipped', run, seq, name: name(run, seq), scope, dataset: ds, t_avail: t0 + seq * 1000, reason: 'gap' }));
  const scheduled = seqs.length + (options.skipped?.length ?? 0);
  return [
    pinoLine({ event: 'run_started', run, side: 'upload', scope, dataset: ds, t0, period_ms: 1000, scheduled }),
    ...chunkLines,
    ...skipLines,
    pinoLine({ event: 'run_finished', run, side: 'upload', scope, dataset: ds, scheduled, counts: {} }),
  ];
}

/** A download line as the downloader writes it: the chunk's identity when it was decoded, always the DID. */
function downloadLine(event: string, fileName: string, fields: Record<string, unknown> = {}, ds = dataset): string {
  return pinoLine({ event, name: fileName, scope, dataset: ds, did: `${scope}:${fileName}`, t_detected: t0 + 100, t_downloaded: t0 + 150, ...fields });
}

function verifiedChunk(run: string, seq: number, extra: Record<string, unknown> = {}): string {
  return downloadLine('verified', name(run, seq), { run, seq, t_avail: t0 + seq * 1000, t_verified: t0 + seq * 1000 + 300, ...extra });
}

function downloadLog(lines: readonly string[], folder = dataset, ds = dataset): string[] {
  return [
    pinoLine({ event: 'run_started', run: folder, side: 'download', scope, dataset: ds }),
    ...lines,
    pinoLine({ event: 'run_finished', run: folder, side: 'download', scope, dataset: ds, counts: {}, reason: 'dataset closed and every chunk in it handled' }),
  ];
}

describe('report join by chunk identity', () => {
  it('joins two sites\' logs whatever their folders are called, and --run selects by the upload run id', async () => {
    const run = 'kill1';
    const siteA = join(scratch.path, 'siteA');
    const siteB = join(scratch.path, 'siteB');
    await writeLog(siteA, 'upload.jsonl', uploadLog(run, [0, 1, 2, 3]), { runId: run });
    // The downloader files its log under the dataset's name, which says nothing about the run.
    await writeLog(siteB, 'download.jsonl', downloadLog([0, 1, 2, 3].map((seq) => verifiedChunk(run, seq))));
    const report = await buildReport([siteA, siteB]);
    expect(report.run).toMatchObject({ id: run, selectedBy: 'only', candidates: [run], recordRuns: [run], dataset });
    expect(report.integrity).toMatchObject({ scheduled: 4, uploaded: 4, verified: 4, missing: 0, notInUploadLog: 0 });
    expect(verdictLine(report)).toMatch(/^PASS: all 4 chunks uploaded, all downloaded, none corrupted/);
    expect((await buildReport([siteB, siteA], { runId: run })).verdict.state).toBe('pass');
  });

  it('takes only the selected run\'s chunks from a dataset that holds two runs, and says so', async () => {
    await writeLog(scratch.path, 'upload.jsonl', uploadLog('first', [0, 1]), { runId: 'a' });
    await writeLog(scratch.path, 'upload.jsonl', uploadLog('second', [0, 1, 2]), { runId: 'b' });
    const lines = [verifiedChunk('first', 0), verifiedChunk('first', 1), verifiedChunk('second', 0), verifiedChunk('second', 2)];
    await writeLog(scratch.path, 'download.jsonl', downloadLog(lines), { runId: 'c' });
    const first = await buildReport([scratch.path], { runId: 'first' });
    expect(first.integrity).toMatchObject({ scheduled: 2, uploaded: 2, verified: 2, missing: 0 });
    expect(first.verdict.state).toBe('pass');
    expect(first.warnings.join('\n')).toMatch(/other upload runs, not counted here: second \(2\); choose a run with --run/);
    const second = await buildReport([scratch.path], { runId: 'second' });
    expect(second.integrity).toMatchObject({ scheduled: 3, verified: 2, missing: 1 });
    expect(second.lists.missing).toEqual([name('second', 1)]);
  });

  it('reads no download log of another dataset, and joins lines without identity by DID', async () => {
    await writeLog(scratch.path, 'upload.jsonl', uploadLog('r', [0, 1]), { runId: 'r' });
    // Another dataset's downloader, with a chunk name that is the same by chance: not read.
    await writeLog(scratch.path, 'download.jsonl', downloadLog([downloadLine('failed', name('r', 0), { error: 'GET 503' }, 'other')], 'other', 'other'), { runId: 'other' });
    await writeLog(
      scratch.path,
      'download.jsonl',
      downloadLog([
        verifiedChunk('r', 0),
        // Bytes that were not decoded: no identity, the DID says which chunk.
        downloadLine('corrupted', name('r', 1), { adler32: 'deadbeef', expected_adler32: '0badcafe', attempt: 1, t_downloaded: t0 + 1200 }),
        verifiedChunk('r', 1, { t_downloaded: t0 + 1300 }),
      ]),
      { runId: dataset },
    );
    const report = await buildReport([scratch.path]);
    expect(report.files.map((file) => file.path.split('/').at(-2))).toEqual(['r', dataset]);
    expect(report.integrity).toMatchObject({ verified: 2, corruptedReads: 1, chunksWithCorruptedRead: 1, recovered: 1, corrupted: 0 });
    expect(report.verdict.state).toBe('pass');
  });

  it('counts foreign files on their own line, outside the chunk counts and latency, and passes', async () => {
    await writeLog(scratch.path, 'upload.jsonl', uploadLog('r', [0, 1]), { runId: 'r' });
    const foreign = downloadLine('verified', 'H-H1_LOSC_4_V2-1126259446-32.hdf5', { foreign: true, bytes: 1000, t_verified: t0 + 5000 });
    await writeLog(scratch.path, 'download.jsonl', downloadLog([verifiedChunk('r', 0), foreign, verifiedChunk('r', 1)]), { runId: dataset });
    const report = await buildReport([scratch.path]);
    expect(report.integrity).toMatchObject({ scheduled: 2, uploaded: 2, downloaded: 2, verified: 2, foreign: 1, notInUploadLog: 0 });
    expect(report.lists.foreign).toEqual(['H-H1_LOSC_4_V2-1126259446-32.hdf5']);
    expect(report.latency.total?.count).toBe(2);
    expect(renderText(report)).toMatch(/\n {2}foreign +1 {2}files in the dataset that are not wavefier chunks/);
    expect(verdictLine(report)).toMatch(/^PASS: all 2 chunks uploaded/);
  });

  it('calls a chunk whose bytes match the catalog but are not a valid chunk invalid: a content error that fails the run', async () => {
    await writeLog(scratch.path, 'upload.jsonl', uploadLog('r', [0, 1, 2]), { runId: 'r' });
    const lines = [
      verifiedChunk('r', 0),
      downloadLine('invalid', name('r', 1), { run: 'r', seq: 1, error: 'chunk holds GPS start 7, but its name says 1400000001' }),
      // Taken for a foreign file by the downloader, yet the upload log says it is chunk 2.
      downloadLine('verified', name('r', 2), { foreign: true }),
    ];
    await writeLog(scratch.path, 'download.jsonl', downloadLog(lines), { runId: dataset });
    const report = await buildReport([scratch.path]);
    expect(report.integrity).toMatchObject({ verified: 1, invalid: 2, corrupted: 0, foreign: 0 });
    expect(report.verdict).toMatchObject({ state: 'fail', exitCode: 3, summary: '2 chunks invalid (content error) (1 of 3 scheduled chunks verified)' });
    expect(renderListing(report, { all: false }).split('\n')).toEqual([
      `* ${name('r', 1)}  (content error: chunk holds GPS start 7, but its name says 1400000001)`,
      `* ${name('r', 2)}  (content error: its bytes match the catalog but are not a wavefier chunk (the downloader took it for a foreign file))`,
    ]);
  });

  it('leaves out, with a warning, a file without identity that no upload log of the run names', async () => {
    await writeLog(scratch.path, 'upload.jsonl', uploadLog('r', [0]), { runId: 'r' });
    const stranger = downloadLine('failed', 'V-V1_OTHER-1-1.hdf5', { error: 'GET 503' });
    await writeLog(scratch.path, 'download.jsonl', downloadLog([verifiedChunk('r', 0), stranger]), { runId: dataset });
    const report = await buildReport([scratch.path]);
    expect(report.verdict.state).toBe('pass');
    expect(report.warnings.join('\n')).toMatch(/1 file\(s\) of the dataset that are in no upload log of run r were never read intact \(V-V1_OTHER-1-1\.hdf5\)/);
  });

  it('gives no verdict for a --run whose producer left no log at all (killed before its first line)', async () => {
    await writeLog(scratch.path, 'download.jsonl', downloadLog([]), { runId: 'gone' });
    const report = await buildReport([scratch.path], { runId: 'gone' });
    expect(report.verdict).toMatchObject({ state: 'no-verdict', exitCode: 5 });
    expect(verdictLine(report)).toMatch(/^NO VERDICT: no upload log of run gone: /);
  });

  it('gives no verdict with download logs alone, whatever they show', async () => {
    await writeLog(scratch.path, 'download.jsonl', downloadLog([verifiedChunk('r', 0), verifiedChunk('r', 1)]), { runId: dataset });
    const report = await buildReport([scratch.path]);
    expect(report.integrity).toMatchObject({ verified: 2 });
    expect(report.verdict).toMatchObject({ ok: false, state: 'no-verdict', exitCode: 5 });
    expect(verdictLine(report)).toMatch(/^NO VERDICT: no upload log of run r: /);
  });
});
