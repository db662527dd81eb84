/**
 * The official Rucio client uploads to a real Rucio 1.31.7 server (its 9-call sequence, its PFNs,
 * its dataset and rule); `wavefier download` finds, fetches and verifies what it uploaded.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chunkName, encodeChunk, openSource } from '../../src/strain/index.js';
import { runCli } from '../helpers/cli.js';
import { h1_4k } from '../fixtures/strain/files.js';
import { fileSums, readJsonLines, realRucioForFile } from './peer.js';

const real = realRucioForFile();

interface DownloadSummary {
  verified: number;
  corrupted: number;
  failed: number;
  foreign: number;
  logFile: string;
}

/** Chunks as wavefier's uploader encodes them, written to files for the official client. */
async function writeChunks(dir: string, runId: string, count: number): Promise<{ path: string; name: string; bytes: Uint8Array }[]> {
  await mkdir(dir, { recursive: true });
  const source = await openSource({ kind: 'synthetic', sampleRate: 4096, seed: 3, detector: 'L1' }, { runId, gpsStart: 1_400_000_000 });
  try {
    const files = [];
    for (let seq = 0; seq < count; seq++) {
      const chunk = source.chunk(seq);
      const bytes = encodeChunk(chunk, { tAvail: Date.now() });
      const name = chunkName(chunk, `OFFICIAL_${runId.replaceAll('-', '_')}`);
      const path = join(dir, name);
      await writeFile(path, bytes);
      files.push({ path, name, bytes });
    }
    return files;
  } finally {
    source.close();
  }
}

describe('the official Rucio client uploads → wavefier download', { timeout: 180_000 }, () => {
  it('chunks uploaded with `rucio upload` into a dataset it then closes are all downloaded and verified', async () => {
    const run = '20261206T120000Z-0f1c';
    const dataset = `official-${run}`;
    const files = await writeChunks(join(real().dir, 'chunks'), run, 5);
    const upload = await real().rucio(['upload', '--rse', 'LOCAL_POSIX', '--scope', 'wavefier', ...files.map((f) => f.path), `wavefier:${dataset}`]);
    expect(upload.code, upload.stderr).toBe(0);
    await real().rucioOk(['close', `wavefier:${dataset}`]);

    const dest = join(real().dir, 'wavefier-download');
    const result = await runCli(
      ['--json', 'download', '--dataset', dataset, '--dest', dest, '--until-closed', '--workers', '2', '--log-dir', join(real().dir, 'logs')],
      { env: real().env },
    );
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as DownloadSummary;
    expect(summary).toMatchObject({ verified: 5, corrupted: 0, failed: 0 });

    const verified = (await readJsonLines(summary.logFile)).filter((e) => e.event === 'verified');
    expect(verified.map((e) => e.name).sort()).toEqual(files.map((f) => f.name).sort());
    for (const file of files) {
      const sums = fileSums(file.bytes);
      const event = verified.find((e) => e.name === file.name);
      // Fetched once, verified at once: one attempt.
      expect(event).toMatchObject({ adler32: sums.adler32, md5: sums.md5, bytes: sums.bytes, run, rse: 'LOCAL_POSIX', attempts: 1 });
      expect(Buffer.from(await readFile(join(dest, dataset, file.name))).equals(Buffer.from(file.bytes))).toBe(true);
    }
  });

  it('a dataset closed before the download starts is verified in the download process itself, without Redis, unless --workers is given', async () => {
    const run = '20261207T020000Z-1a2b';
    const dataset = `official-closed-${run}`;
    const files = await writeChunks(join(real().dir, 'chunks-closed'), run, 6);
    const upload = await real().rucio(['upload', '--rse', 'LOCAL_POSIX', '--scope', 'wavefier', ...files.map((f) => f.path), `wavefier:${dataset}`]);
    expect(upload.code, upload.stderr).toBe(0);
    await real().rucioOk(['close', `wavefier:${dataset}`]);
    const logDir = join(real().dir, 'logs-closed');

    // No redis-server on PATH: a download that tried to start its private Redis would fail.
    const dest = join(real().dir, 'closed-download');
    const auto = await runCli(['--json', 'download', `wavefier:${dataset}`, '--dir', dest, '--until-closed', '--log-dir', logDir, '--run-name', 'auto'], {
      env: { ...real().env, PATH: join(real().dir, 'no-such-bin') },
    });
    expect(auto.code, auto.stderr).toBe(0);
    const summary = JSON.parse(auto.stdout.trim().split('\n').at(-1) ?? '') as DownloadSummary & { verifiedBy: string; polls: number };
    expect(summary).toMatchObject({ verified: 6, corrupted: 0, failed: 0 });
    expect(summary.verifiedBy).toMatch(/^this process, 2 chunks at a time \(the dataset was closed when the download started/);
    // The DID's length came with the choice: the one listing found every file, no further poll.
    expect(summary.polls).toBe(1);
    const events = await readJsonLines(summary.logFile);
    expect(events[0]).toMatchObject({ event: 'run_started', settings: { workers: 0, verify: 'in-process', rucio_version: '1.31.7' } });
    const verified = events.filter((e) => e.event === 'verified');
    expect(verified.map((e) => e.name).sort()).toEqual(files.map((f) => f.name).sort());
    for (const file of files) {
      expect(verified.find((e) => e.name === file.name)).toMatchObject({ adler32: fileSums(file.bytes).adler32, rse: 'LOCAL_POSIX', attempts: 1 });
      expect(Buffer.from(await readFile(join(dest, dataset, file.name))).equals(Buffer.from(file.bytes))).toBe(true);
    }

    const explicit = await runCli(['--json', 'download', `wavefier:${dataset}`, '--keep', 'none', '--until-closed', '--workers', '1', '--log-dir', logDir, '--run-name', 'explicit'], {
      env: real().env,
    });
    expect(explicit.code, explicit.stderr).toBe(0);
    const explicitSummary = JSON.parse(explicit.stdout.trim().split('\n').at(-1) ?? '') as DownloadSummary & { verifiedBy: string };
    expect(explicitSummary).toMatchObject({ verified: 6, verifiedBy: '1 worker processes on this host' });
  });

  it('foreign files uploaded with `rucio upload` (a GWOSC strain file, a text file) are verified as foreign', async () => {
    const dir = join(real().dir, 'foreign');
    await mkdir(dir, { recursive: true });
    const text = join(dir, 'operator-notes.txt');
    await writeFile(text, 'not strain: notes an operator uploaded next to the chunks\n');
    const dataset = `foreign-${Date.now()}`;
    const upload = await real().rucio(['upload', '--rse', 'LOCAL_POSIX', '--scope', 'wavefier', h1_4k, text, `wavefier:${dataset}`]);
    expect(upload.code, upload.stderr).toBe(0);
    await real().rucioOk(['close', `wavefier:${dataset}`]);

    const dest = join(real().dir, 'foreign-download');
    const result = await runCli(
      ['--json', 'download', '--dataset', dataset, '--dest', dest, '--until-closed', '--workers', '2', '--log-dir', join(real().dir, 'logs')],
      { env: real().env },
    );
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as DownloadSummary;
    expect(summary).toMatchObject({ verified: 2, foreign: 2, corrupted: 0, failed: 0 });
    const verified = (await readJsonLines(summary.logFile)).filter((e) => e.event === 'verified');
    for (const path of [h1_4k, text]) {
      const bytes = await readFile(path);
      const name = path.split('/').at(-1) ?? '';
      const sums = fileSums(bytes);
      expect(verified.find((e) => e.name === name)).toMatchObject({ foreign: true, adler32: sums.adler32, md5: sums.md5, bytes: sums.bytes, rse: 'LOCAL_POSIX' });
      expect(Buffer.from(await readFile(join(dest, dataset, name))).equals(bytes)).toBe(true);
    }
    expect(result.stderr).toMatch(/foreign file: operator-notes\.txt is not a wavefier chunk/);
  });
});
