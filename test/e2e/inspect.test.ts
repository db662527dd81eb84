import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkName, encodeChunk, openSource, writeGwoscFile } from '../../src/strain/index.js';
import { runCli } from '../helpers/cli.js';
import { h1_16k, h1_4k, l1_4k, scratchDir, testSample } from '../fixtures/strain/files.js';

// Spawns bin/wavefier: run `npm run build` first.
const scratch = scratchDir('inspect');
const gappy = join(scratch.dir, 'H-H1_LOSC_4_V1-1126259446-4.hdf5');

beforeAll(() => {
  writeGwoscFile(gappy, {
    detector: 'H1',
    gpsStart: 1126259446,
    duration: 4,
    sampleRate: 4096,
    sample: (index) => (index >= 2 * 4096 && index < 2 * 4096 + 2048 ? Number.NaN : testSample(index)),
    fixedStrings: true,
    dq: (second) => (second === 3 ? 1 : 127),
  });
});
afterAll(() => scratch.cleanup());

describe('wavefier inspect', () => {
  it('prints a table of the real files and a generated old-LOSC file with a NaN gap', async () => {
    const result = await runCli(['inspect', h1_4k, h1_16k, l1_4k, gappy]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^FILE\s+DETECTOR\s+GPS START\s+GPS END\s+DURATION\s+RATE\s+SAMPLES\s+NAN GAPS\s+DQ\s+LAYOUT$/);
    expect(lines[1]).toMatch(/^H-H1_LOSC_4_V2-1126259446-32\.hdf5\s+H1 \(H\)\s+1126259446\s+1126259478\s+32 s\s+4096 Hz\s+131072\s+none\s+all 7 bits set, 32 s\s+losc-vlen-strings$/);
    expect(lines[2]).toMatch(/16384 Hz\s+524288\s+none/);
    expect(lines[3]).toMatch(/^L-L1_LOSC_4_V1-1167559920-32\.hdf5\s+L1 \(L\)\s+1167559920/);
    expect(lines[4]).toMatch(/1 \(2048 samples\)\s+3\/4 s all set; partial: CBC_CAT1 3 s.*losc-fixed-strings$/);
    expect(result.stdout).toContain('[1126259448, 1126259448.5)  2048 samples');
  });

  it('prints one JSON object per file with --json', async () => {
    const result = await runCli(['--json', 'inspect', h1_4k, gappy]);
    expect(result.code).toBe(0);
    const objects = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(objects).toHaveLength(2);
    expect(objects[0]).toMatchObject({
      file: 'H-H1_LOSC_4_V2-1126259446-32.hdf5',
      detector: 'H1',
      observatory: 'H',
      gpsStart: 1126259446,
      gpsEnd: 1126259478,
      duration: 32,
      sampleRate: 4096,
      sampleCount: 131072,
      layout: 'losc-vlen-strings',
      nanSamples: 0,
      nanGaps: [],
      dq: { seconds: 32, bits: 7, allBitsSet: 32 },
    });
    expect(objects[1]).toMatchObject({
      layout: 'losc-fixed-strings',
      nanSamples: 2048,
      nanGaps: [{ gpsStart: 1126259448, gpsEnd: 1126259448.5, samples: 2048 }],
    });
  });
});

describe('wavefier inspect on a chunk written by wavefier', () => {
  it('shows the rehearsal timeline and the chunk attributes', async () => {
    const source = await openSource({ kind: 'file', path: l1_4k, order: 'sequential' }, { runId: 'run-e2e', gpsStart: 1418400000 });
    const chunk = source.chunk(5);
    source.close();
    const path = join(scratch.dir, chunkName(chunk));
    writeFileSync(path, encodeChunk(chunk, { tAvail: Date.UTC(2026, 10, 26, 16, 0, 0) }));
    const text = await runCli(['inspect', path]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^L-L1_WAVEFIER-1418400005-1\.hdf5\s+L1 \(L\)\s+1418400005\s+1418400006\s+1 s\s+4096 Hz\s+4096\s+none\s+.*wavefier-chunk$/m);
    expect(text.stdout).toContain(
      'L-L1_WAVEFIER-1418400005-1.hdf5: chunk 5 of run run-e2e, from L-L1_LOSC_4_V1-1167559920-32.hdf5 at GPS 1167559925, t_avail 2026-11-26T16:00:00.000Z',
    );
    const json = await runCli(['--json', 'inspect', path]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      layout: 'wavefier-chunk',
      chunk: { runId: 'run-e2e', seq: 5, sourceKind: 'file', sourceFile: 'L-L1_LOSC_4_V1-1167559920-32.hdf5', sourceGps: 1167559925, tAvail: Date.UTC(2026, 10, 26, 16, 0, 0) },
    });
  });
});

describe('wavefier inspect on bad input: one line on stderr naming the file, exit 2', () => {
  const bad: [string, () => string, RegExp][] = [
    ['a missing file', () => join(scratch.dir, 'missing.hdf5'), /missing\.hdf5: no such file; check the path/],
    [
      'a file that is not HDF5',
      () => {
        const path = join(scratch.dir, 'notes.hdf5');
        writeFileSync(path, 'GPS 1126259462.4\n');
        return path;
      },
      /notes\.hdf5: not an HDF5 file/,
    ],
    [
      'a truncated file',
      () => {
        const path = join(scratch.dir, 'cut.hdf5');
        writeFileSync(path, readFileSync(l1_4k).subarray(0, 300_000));
        return path;
      },
      /cut\.hdf5: truncated HDF5 file: 300000 bytes on disk but the superblock says 1005007; download it again/,
    ],
    [
      'a file without /strain/Strain',
      () => {
        const path = join(scratch.dir, 'meta-only.hdf5');
        writeGwoscFile(path, { detector: 'H1', gpsStart: 1, duration: 1, sampleRate: 16, sample: testSample, omitStrain: true });
        return path;
      },
      /meta-only\.hdf5: no \/strain\/Strain dataset/,
    ],
    [
      'Npoints inconsistent with the dataset',
      () => {
        const path = join(scratch.dir, 'npoints.hdf5');
        writeGwoscFile(path, { detector: 'H1', gpsStart: 1, duration: 2, sampleRate: 16, sample: testSample, npoints: 31 });
        return path;
      },
      /npoints\.hdf5: \/strain\/Strain Npoints is 31 but the dataset holds 32 samples/,
    ],
    [
      '/meta/Duration inconsistent with Xspacing x length',
      () => {
        const path = join(scratch.dir, 'duration.hdf5');
        writeGwoscFile(path, { detector: 'H1', gpsStart: 1, duration: 2, sampleRate: 16, sample: testSample, metaDuration: 32 });
        return path;
      },
      /duration\.hdf5: \/meta\/Duration is 32 s but \/strain\/Strain has 32 samples at Xspacing 0\.0625 \(2 s\)/,
    ],
  ];
  for (const [what, make, message] of bad) {
    it(what, async () => {
      const result = await runCli(['inspect', make()]);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^wavefier: error: /);
      expect(lines[0]).toMatch(message);
      expect(result.stderr).not.toMatch(/HDF5-DIAG|\n\s+at /);
    });
  }

  it('refuses a call without files with exit 2', async () => {
    const result = await runCli(['inspect']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/missing required argument 'files'/);
  });

  it('shows the stack with --debug', async () => {
    const result = await runCli(['--debug', 'inspect', join(scratch.dir, 'missing.hdf5')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no such file/);
    expect(result.stderr).toMatch(/\n\s+at /);
  });

  it('reports every bad file, prints the good ones, and still exits 2', async () => {
    const result = await runCli(['inspect', join(scratch.dir, 'a.hdf5'), h1_4k, join(scratch.dir, 'b.hdf5')]);
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/H-H1_LOSC_4_V2-1126259446-32\.hdf5/);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toEqual([expect.stringMatching(/a\.hdf5: no such file/), expect.stringMatching(/b\.hdf5: no such file/)]);
  });
});
