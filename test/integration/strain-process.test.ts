import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksums } from '../../src/common/checksum.js';
import { encodeChunk, openSource, writeGwoscFile } from '../../src/strain/index.js';
import { runBuiltSnippet } from '../fixtures/strain/child.js';
import { scratchDir } from '../fixtures/strain/files.js';

// These spawn Node on dist/: run `npm run build` first.
const scratch = scratchDir('strain-process');
const bulk = join(scratch.dir, 'L-L1_GWOSC_O2_4KHZ_R1-1187008512-4096.hdf5');
const rate = 4096;
const seconds = 4096;

beforeAll(() => {
  // An O2-style bulk file: 4096 s at 4 kHz (128 MiB of float64), chunked like GWOSC's. Not deflated
  // here to keep the suite fast; `npm run bench` measures the deflated variant.
  writeGwoscFile(bulk, {
    detector: 'L1',
    gpsStart: 1187008512,
    duration: seconds,
    sampleRate: rate,
    sample: (index) => ((index % 4099) - 2049) * 1e-24,
    chunkSamples: 2048,
    dq: () => 127,
    descriptionUrl: 'https://gwosc.org/',
  });
}, 120_000);
afterAll(() => scratch.cleanup());

describe('a 4096 s bulk file read chunk by chunk in its own process', () => {
  it('reads, encodes and checksums all 4096 chunks with peak RSS under 100 MB', async () => {
    const result = await runBuiltSnippet<{ chunks: number; lastOk: boolean; maxRssMb: number; bytes: number }>(`
      const { openSource, encodeChunk } = await import('./dist/strain/index.js');
      const { checksums } = await import('./dist/common/checksum.js');
      const source = await openSource({ kind: 'file', path: ${JSON.stringify(bulk)}, order: 'sequential' }, { runId: 'rss', gpsStart: 1418400000 });
      let chunks = 0, bytes = 0, last;
      for (let seq = 0; seq < ${seconds}; seq++) {
        last = source.chunk(seq);
        const encoded = encodeChunk(last, { tAvail: seq });
        checksums(encoded);
        bytes += encoded.byteLength;
        chunks++;
      }
      const expected = (index) => ((index % 4099) - 2049) * 1e-24;
      const base = (${seconds} - 1) * ${rate};
      const lastOk = last.samples.every((value, i) => value === expected(base + i)) && last.source.gpsStart === 1187008512 + ${seconds} - 1;
      source.close();
      console.log(JSON.stringify({ chunks, lastOk, bytes, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
    `);
    expect(result.chunks).toBe(seconds);
    expect(result.lastOk).toBe(true);
    expect(result.bytes).toBeGreaterThan(seconds * rate * 8);
    expect(result.maxRssMb).toBeLessThan(100);
  });
});

describe('encoding is the same in every process', () => {
  it('gives the same bytes (and adler32) for the same chunk in another process at another time', async () => {
    const source = await openSource({ kind: 'synthetic', sampleRate: 4096, seed: 9 }, { runId: 'determinism', gpsStart: 1418400000 });
    const here = checksums(encodeChunk(source.chunk(3), { tAvail: 5 }));
    // The other process builds its own chunk template at another wall-clock second.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const there = await runBuiltSnippet<unknown>(`
      const { openSource, encodeChunk } = await import('./dist/strain/index.js');
      const { checksums } = await import('./dist/common/checksum.js');
      const source = await openSource({ kind: 'synthetic', sampleRate: 4096, seed: 9 }, { runId: 'determinism', gpsStart: 1418400000 });
      console.log(JSON.stringify(checksums(encodeChunk(source.chunk(3), { tAvail: 5 }))));
    `);
    expect(there).toEqual(here);
  });
});
