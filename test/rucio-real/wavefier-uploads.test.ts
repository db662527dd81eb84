/**
 * wavefier uploads to a real Rucio 1.31.7 server; the official client lists, downloads and
 * validates what it finds (adler32, md5, size, the PFN of Rucio's own `hash` lfn2pfn), and the
 * strain in the files it downloads is bit-exact with the source.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeChunk, openSource, openStrainFile } from '../../src/strain/index.js';
import { runCli } from '../helpers/cli.js';
import { h1_4k } from '../fixtures/strain/files.js';
import { fileSums, hashPath, parseTable, readJsonLines, realRucioForFile } from './peer.js';

const real = realRucioForFile();

interface UploadSummary {
  run: string;
  dataset: string;
  uploaded: number;
  failed: number;
  logFile: string;
}

interface UploadedEvent {
  seq: number;
  name: string;
  bytes: number;
  adler32: string;
  md5: string;
  attempts: number;
}

async function upload(args: readonly string[]): Promise<{ summary: UploadSummary; uploaded: UploadedEvent[] }> {
  const result = await runCli(['--json', 'upload', '--rse', 'LOCAL_POSIX', '--as-fast-as-possible', '--close-dataset', '--log-dir', join(real().dir, 'logs'), ...args], { env: real().env });
  expect(result.stderr).not.toMatch(/error/i);
  expect(result.code).toBe(0);
  const summary = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as UploadSummary;
  const uploaded = (await readJsonLines(summary.logFile)).filter((e) => e.event === 'uploaded') as unknown as UploadedEvent[];
  return { summary, uploaded: uploaded.sort((a, b) => a.seq - b.seq) };
}

/** What the official client says about a dataset wavefier wrote, checked against wavefier's upload log. */
async function checkWithOfficialClient(dataset: string, uploaded: UploadedEvent[]): Promise<Map<string, Uint8Array>> {
  const did = `wavefier:${dataset}`;
  const names = uploaded.map((u) => u.name).sort();

  const dest = join(real().dir, 'official-download', dataset);
  // Independent read-only commands: run side by side (each is a Python start-up of ~0.5 s).
  const [contentText, replicasText, stat, meta, download] = await Promise.all([
    real().rucioOk(['list-content', did]),
    real().rucioOk(['list-file-replicas', did]),
    real().rucioOk(['stat', did]),
    real().rucioOk(['get-metadata', ...uploaded.map((u) => `wavefier:${u.name}`)]),
    real().rucio(['download', '--dir', dest, did]),
  ]);

  const content = parseTable(contentText);
  expect(content.map((row) => row['SCOPE:NAME']).sort()).toEqual(names.map((n) => `wavefier:${n}`));
  expect(new Set(content.map((row) => row['[DID TYPE]']))).toEqual(new Set(['FILE']));

  const replicas = parseTable(replicasText);
  expect(replicas).toHaveLength(uploaded.length);
  for (const event of uploaded) {
    const row = replicas.find((r) => r.NAME === event.name);
    expect(row?.ADLER32).toBe(event.adler32);
    expect(row?.['RSE: REPLICA']).toBe(`LOCAL_POSIX: file://localhost${hashPath(real().info.rse_prefix, 'wavefier', event.name)}`);
  }

  expect(stat).toMatch(/^open:\s+False$/m);
  expect(stat).toMatch(new RegExp(`^length:\\s+${uploaded.length}$`, 'm'));

  for (const event of uploaded) {
    const block = meta.split(/\n(?=access_cnt:)/).find((b) => b.includes(`name:            ${event.name}\n`));
    expect(block).toMatch(new RegExp(`^adler32:\\s+${event.adler32}$`, 'm'));
    expect(block).toMatch(new RegExp(`^md5:\\s+${event.md5}$`, 'm'));
    expect(block).toMatch(new RegExp(`^bytes:\\s+${event.bytes}$`, 'm'));
    expect(block).toMatch(/^availability:\s+AVAILABLE$/m);
  }

  expect(download.code, download.stderr).toBe(0);
  expect(download.stdout).toMatch(new RegExp(`Downloaded files:\\s+${uploaded.length}\\n`));
  expect(download.stdout).toMatch(/Files that cannot be downloaded:\s+0/);
  const files = new Map<string, Uint8Array>();
  expect((await readdir(join(dest, dataset))).sort()).toEqual(names);
  for (const event of uploaded) {
    const bytes = await readFile(join(dest, dataset, event.name));
    expect(fileSums(bytes)).toEqual({ adler32: event.adler32, md5: event.md5, bytes: event.bytes });
    files.set(event.name, bytes);
  }
  return files;
}

describe('wavefier upload → the official Rucio client', { timeout: 180_000 }, () => {
  it('synthetic chunks: listed, replicated at the hash PFN, downloaded and validated; strain bit-exact', async () => {
    const { summary, uploaded } = await upload(['--source', 'synthetic', '--detector', 'V1', '--seed', '7', '--count', '6']);
    expect(summary.uploaded).toBe(6);
    expect(uploaded.map((u) => u.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    const files = await checkWithOfficialClient(summary.dataset, uploaded);

    const source = await openSource({ kind: 'synthetic', sampleRate: 4096, seed: 7, detector: 'V1' }, { runId: summary.run, gpsStart: 0 });
    try {
      for (const event of uploaded) {
        const chunk = decodeChunk(files.get(event.name)!, event.name);
        expect(chunk.runId).toBe(summary.run);
        expect(chunk.seq).toBe(event.seq);
        expect(chunk.detector).toBe('V1');
        expect(Buffer.from(chunk.samples.buffer, chunk.samples.byteOffset, chunk.samples.byteLength)).toEqual(
          Buffer.from(source.chunk(event.seq).samples.buffer),
        );
      }
    } finally {
      source.close();
    }
  });

  it('GWOSC chunks: the official client downloads the strain of the LOSC file, sample for sample', async () => {
    const { summary, uploaded } = await upload(['--source', h1_4k, '--count', '4']);
    expect(summary.uploaded).toBe(4);
    const files = await checkWithOfficialClient(summary.dataset, uploaded);

    const losc = await openStrainFile(h1_4k);
    try {
      expect(losc.info.sampleRate).toBe(4096);
      for (const event of uploaded) {
        const chunk = decodeChunk(files.get(event.name)!, event.name);
        expect(chunk.detector).toBe('H1');
        expect(chunk.sourceGps).toBe(losc.info.gpsStart + event.seq);
        expect(Array.from(chunk.samples)).toEqual(Array.from(losc.readSlice(event.seq * 4096, 4096)));
      }
    } finally {
      losc.close();
    }
  });
});
