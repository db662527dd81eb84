import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checksums } from '../../src/common/checksum.js';
import { InputError, UsageError } from '../../src/common/errors.js';
import { chunkName, chunkShape, decodeChunk, encodeChunk, expectChunkShape, openSource, openStrainFile, parseChunkName, type Chunk } from '../../src/strain/index.js';
import { h1_16k, h1_4k, l1_4k, scratchDir } from '../fixtures/strain/files.js';
import { writeFileSync } from 'node:fs';

const scratch = scratchDir('strain-encoding');
afterAll(() => scratch.cleanup());

function chunkOf(samples: Float64Array, overrides: Partial<Chunk> = {}): Chunk {
  return {
    runId: 'run-2026-11-26T15-00-00Z',
    seq: 41,
    gpsStart: 1418400041,
    duration: 1,
    sampleRate: samples.length,
    samples,
    detector: 'H1',
    observatory: 'H',
    source: { kind: 'file', file: 'H-H1_LOSC_4_V2-1126259446-32.hdf5', gpsStart: 1126259450 },
    dqMask: [127],
    ...overrides,
  };
}

describe('encodeChunk / decodeChunk', () => {
  it('round-trips every sample bit for bit, including NaN, -0, subnormals and extremes', () => {
    const samples = new Float64Array(4096).map((_, index) => Math.sin(index) * 1e-21);
    samples.set([Number.NaN, -0, 5e-324, -Number.MAX_VALUE, Number.MAX_VALUE, Infinity, -Infinity, 1e-300], 100);
    const chunk = chunkOf(samples);
    const bytes = encodeChunk(chunk, { tAvail: 1795965600123.25 });
    const decoded = decodeChunk(bytes);
    // The second decode of the same shape reads the bytes directly instead of through h5wasm.
    const again = decodeChunk(encodeChunk(chunk, { tAvail: 1795965600123.25 }));
    for (const result of [decoded, again]) {
      expect(Buffer.from(result.samples.buffer, result.samples.byteOffset, result.samples.byteLength)).toEqual(
        Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength),
      );
    }
    expect(again).toEqual(decoded);
    expect(decoded).toMatchObject({
      runId: chunk.runId,
      seq: 41,
      gpsStart: 1418400041,
      duration: 1,
      sampleRate: 4096,
      detector: 'H1',
      observatory: 'H',
      sourceKind: 'file',
      sourceFile: 'H-H1_LOSC_4_V2-1126259446-32.hdf5',
      sourceGps: 1126259450,
      tAvail: 1795965600123.25,
      dqMask: [127],
      formatVersion: 1,
    });
  });

  it('writes a file any GWOSC reader opens: our own reader sees the GWOSC layout and the rehearsal timeline', async () => {
    const samples = new Float64Array(16384).map((_, index) => index * 1e-25);
    const bytes = encodeChunk(chunkOf(samples, { sampleRate: 16384, seq: 7, gpsStart: 1418400007 }), { tAvail: 1 });
    const path = join(scratch.dir, 'H-H1_WAVEFIER-1418400007-1.hdf5');
    writeFileSync(path, bytes);
    const file = await openStrainFile(path);
    try {
      expect(file.info).toMatchObject({ layout: 'wavefier-chunk', detector: 'H1', gpsStart: 1418400007, duration: 1, sampleRate: 16384, sampleCount: 16384 });
      expect(file.info.utcStart).toMatch(/^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      expect(file.readSlice(16000, 2)).toEqual(Float64Array.of(16000e-25, 16001e-25));
    } finally {
      file.close();
    }
  });

  it('gives different bytes for different chunks of the same shape and the same bytes for the same chunk', () => {
    const samples = new Float64Array(4096).fill(1e-21);
    const a = encodeChunk(chunkOf(samples), { tAvail: 10 });
    const again = encodeChunk(chunkOf(samples.slice()), { tAvail: 10 });
    const other = encodeChunk(chunkOf(samples, { seq: 42, gpsStart: 1418400042 }), { tAvail: 10 });
    expect(checksums(again)).toEqual(checksums(a));
    expect(checksums(other).adler32).not.toBe(checksums(a).adler32);
    expect(decodeChunk(other).seq).toBe(42);
  });

  it('encodes chunks of every real file and of a synthetic source', async () => {
    for (const path of [h1_4k, h1_16k, l1_4k]) {
      const source = await openSource({ kind: 'file', path, order: 'sequential' }, { runId: 'r', gpsStart: 1418400000 });
      const chunk = source.chunk(31);
      const decoded = decodeChunk(encodeChunk(chunk, { tAvail: 0 }));
      expect(decoded.samples).toEqual(chunk.samples);
      expect(decoded.dqMask).toEqual([127]);
      source.close();
    }
    const synthetic = await openSource({ kind: 'synthetic', sampleRate: 16384, seed: 1, detector: 'V1' }, { runId: 'r', gpsStart: 1418400000 });
    const decoded = decodeChunk(encodeChunk(synthetic.chunk(0), { tAvail: 0 }));
    expect(decoded).toMatchObject({ detector: 'V1', observatory: 'V', sourceKind: 'synthetic', sampleRate: 16384 });
    expect(decoded.sourceFile).toBeUndefined();
    expect(decoded.dqMask).toBeUndefined();
  });

  it('refuses chunks whose fields do not fit', () => {
    expect(() => encodeChunk(chunkOf(new Float64Array(100), { sampleRate: 4096 }), { tAvail: 0 })).toThrow(/100 samples, expected 4096/);
    expect(() => encodeChunk(chunkOf(new Float64Array(16), { gpsStart: 1.5 }), { tAvail: 0 })).toThrow(UsageError);
    expect(() => encodeChunk(chunkOf(new Float64Array(16)), { tAvail: Number.NaN })).toThrow(/t_avail/);
  });

  it('throws InputError for bytes that are not a chunk', () => {
    expect(() => decodeChunk(new TextEncoder().encode('not hdf5 at all'), 'x.hdf5')).toThrow(/x\.hdf5: not an HDF5 file/);
    const bytes = encodeChunk(chunkOf(new Float64Array(64)), { tAvail: 0 });
    expect(() => decodeChunk(bytes.subarray(0, bytes.length - 200))).toThrow(InputError);
    const corrupt = bytes.slice();
    corrupt.fill(0xff, 8, 200);
    expect(() => decodeChunk(corrupt)).toThrow(InputError);
  });
});

describe('decoding many chunks of one shape', () => {
  it('reads them straight from the bytes after the first, with the same results as h5wasm', async () => {
    const { decodePathCounts } = await import('../../src/strain/chunk-decoding.js');
    const source = await openSource({ kind: 'file', path: l1_4k, order: 'random', seed: 5 }, { runId: 'decode-fast', gpsStart: 1418400000 });
    const before = decodePathCounts();
    for (let seq = 0; seq < 40; seq++) {
      const chunk = source.chunk(seq);
      const decoded = decodeChunk(encodeChunk(chunk, { tAvail: 1795965600000 + seq * 1000.5 }));
      expect(decoded).toEqual({
        runId: 'decode-fast',
        seq,
        gpsStart: 1418400000 + seq,
        duration: 1,
        sampleRate: 4096,
        samples: chunk.samples,
        detector: 'L1',
        observatory: 'L',
        sourceKind: 'file',
        sourceFile: 'L-L1_LOSC_4_V1-1167559920-32.hdf5',
        sourceGps: chunk.source.gpsStart,
        tAvail: 1795965600000 + seq * 1000.5,
        dqMask: [127],
        formatVersion: 1,
      });
    }
    source.close();
    const after = decodePathCounts();
    expect(after.h5wasm - before.h5wasm).toBe(1);
    expect(after.template - before.template).toBe(39);
  });

  it('learns the template of a new shape when the caller says, reading every chunk whole until then', async () => {
    const { decodePathCounts } = await import('../../src/strain/chunk-decoding.js');
    const chunk = (seq: number): Chunk => chunkOf(new Float64Array(4096).fill(seq * 1e-21), { runId: 'decode-deferred', seq, gpsStart: 1418400000 + seq });
    const bytes = [0, 1, 2].map((seq) => encodeChunk(chunk(seq), { tAvail: 1795965600000 + seq }));
    const pending: (() => void)[] = [];
    const deferLearning = (learn: () => void): void => {
      pending.push(learn);
    };
    const before = decodePathCounts();
    const first = decodeChunk(bytes[0]!, 'first', { deferLearning });
    const second = decodeChunk(bytes[1]!, 'second', { deferLearning });
    expect(decodePathCounts().h5wasm - before.h5wasm).toBe(2);
    expect(pending).toHaveLength(2);
    expect(first).toMatchObject({ runId: 'decode-deferred', seq: 0, gpsStart: 1418400000, tAvail: 1795965600000 });
    expect(second.samples).toEqual(chunk(1).samples);
    // The second learning finds the template the first one taught.
    for (const learn of pending) learn();
    const third = decodeChunk(bytes[2]!, 'third', { deferLearning });
    const after = decodePathCounts();
    expect(after.h5wasm - before.h5wasm).toBe(2);
    expect(after.template - before.template).toBe(1);
    expect(pending).toHaveLength(2);
    expect(third).toEqual({ ...decodeChunk(bytes[2]!), seq: 2 });
  });

  it('sends bytes that differ outside the per-chunk fields to h5wasm, which reads what they say', async () => {
    const { decodePathCounts } = await import('../../src/strain/chunk-decoding.js');
    const samples = new Float64Array(4096).fill(2e-21);
    const chunk = chunkOf(samples, { runId: 'decode-tamper' });
    decodeChunk(encodeChunk(chunk, { tAvail: 1 }));
    const bytes = encodeChunk({ ...chunk, seq: 42 }, { tAvail: 2 });
    const detectorAt = Buffer.from(bytes).indexOf('H1\0');
    expect(detectorAt).toBeGreaterThan(0);
    const renamed = bytes.slice();
    renamed[detectorAt + 1] = '2'.charCodeAt(0);
    const before = decodePathCounts();
    expect(decodeChunk(renamed).detector).toBe('H2');
    expect(decodePathCounts().h5wasm - before.h5wasm).toBe(1);
    expect(decodeChunk(bytes).detector).toBe('H1');
  });

  it('still rejects chunks whose GPS fields disagree', () => {
    const chunk = chunkOf(new Float64Array(4096), { runId: 'decode-gps' });
    decodeChunk(encodeChunk(chunk, { tAvail: 1 }));
    const bytes = encodeChunk(chunk, { tAvail: 1 });
    const gps = Buffer.alloc(8);
    gps.writeBigInt64LE(1418400041n);
    const first = Buffer.from(bytes).indexOf(gps);
    expect(first).toBeGreaterThan(0);
    const broken = bytes.slice();
    broken[first] = (broken[first] ?? 0) ^ 1;
    expect(() => decodeChunk(broken, 'H-H1_WAVEFIER-1418400041-1.hdf5')).toThrow(/H-H1_WAVEFIER-1418400041-1\.hdf5: \/meta\/GPSstart differs/);
  });
});

describe('a chunk shape announced before its first chunk', () => {
  it('lets the first chunk of that shape be read straight from its bytes, with the values h5wasm reads', async () => {
    const { decodePathCounts } = await import('../../src/strain/chunk-decoding.js');
    const samples = Float64Array.from({ length: 4096 }, (_, index) => Math.cos(index / 7) * 1e-21);
    const chunk = chunkOf(samples, { runId: 'announced-shape', seq: 0, gpsStart: 1418400000 });
    expect(expectChunkShape(chunkShape(chunk))).toBe(true);
    // Said twice (a relayed line read again): one template.
    expect(expectChunkShape({ ...chunkShape(chunk) })).toBe(true);
    const bytes = encodeChunk(chunk, { tAvail: 1795965600000.5 });
    const before = decodePathCounts();
    const decoded = decodeChunk(bytes, 'first');
    const after = decodePathCounts();
    expect(after.h5wasm - before.h5wasm).toBe(0);
    expect(after.template - before.template).toBe(1);
    expect(decoded).toEqual({
      runId: 'announced-shape',
      seq: 0,
      gpsStart: 1418400000,
      duration: 1,
      sampleRate: 4096,
      samples,
      detector: 'H1',
      observatory: 'H',
      sourceKind: 'file',
      sourceFile: 'H-H1_LOSC_4_V2-1126259446-32.hdf5',
      sourceGps: 1126259450,
      tAvail: 1795965600000.5,
      dqMask: [127],
      formatVersion: 1,
    });
  });

  it('cannot make a chunk decode wrongly: chunks that differ from the announced shape are read in full by h5wasm', async () => {
    const { decodePathCounts } = await import('../../src/strain/chunk-decoding.js');
    const samples = Float64Array.from({ length: 4096 }, (_, index) => Math.sin(index / 3) * 1e-21);
    const real = chunkOf(samples, { runId: 'real-shape', seq: 0, gpsStart: 1418400100, detector: 'L1', observatory: 'L' });
    // Each announcement is wrong in one field only: another run, detector, rate, source, DQ or duration.
    const wrong = [
      { ...chunkShape(real), runId: 'other-run' },
      { ...chunkShape(real), detector: 'H1' },
      { ...chunkShape(real), sampleRate: 2048 },
      { ...chunkShape(real), sourceKind: 'synthetic' as const, sourceFile: undefined },
      { ...chunkShape(real), hasDq: false },
      { ...chunkShape(real), duration: 2 },
    ];
    for (const shape of wrong) expect(expectChunkShape(shape)).toBe(true);
    const before = decodePathCounts();
    const decoded = decodeChunk(encodeChunk(real, { tAvail: 1795965600100 }), 'real', { deferLearning: () => undefined });
    expect(decodePathCounts().h5wasm - before.h5wasm).toBe(1);
    expect(decoded).toMatchObject({ runId: 'real-shape', seq: 0, gpsStart: 1418400100, detector: 'L1', observatory: 'L', sampleRate: 4096, sourceKind: 'file', dqMask: [127] });
    expect(decoded.samples).toEqual(samples);
  });

  it('is ignored when it is no shape a chunk can have', () => {
    const shape = chunkShape(chunkOf(new Float64Array(4096), { runId: 'bad-shape' }));
    expect(expectChunkShape({ ...shape, duration: 0 })).toBe(false);
    expect(expectChunkShape({ ...shape, sampleRate: 0.5 })).toBe(false);
    expect(expectChunkShape({ ...shape, detector: '' })).toBe(false);
  });
});

describe('chunkName', () => {
  it('follows the IGWN convention with a configurable tag', () => {
    const chunk = { observatory: 'H', detector: 'H1', gpsStart: 1418400000, duration: 1 };
    expect(chunkName(chunk)).toBe('H-H1_WAVEFIER-1418400000-1.hdf5');
    expect(chunkName(chunk, 'REHEARSAL_2')).toBe('H-H1_REHEARSAL_2-1418400000-1.hdf5');
    expect(parseChunkName('L-L1_WAVEFIER-1418400007-4.hdf5')).toEqual({ observatory: 'L', detector: 'L1', tag: 'WAVEFIER', gpsStart: 1418400007, duration: 4 });
    expect(parseChunkName('random.txt')).toBeUndefined();
  });

  it('refuses tags and fields that would break the name or Rucio', () => {
    const chunk = { observatory: 'H', detector: 'H1', gpsStart: 1418400000, duration: 1 };
    expect(() => chunkName(chunk, 'BAD-TAG')).toThrow(/letters, digits and underscores/);
    expect(() => chunkName(chunk, 'A'.repeat(240))).toThrow(/Rucio/);
    expect(() => chunkName({ ...chunk, detector: 'h1' })).toThrow(/detector/);
    expect(() => chunkName({ ...chunk, gpsStart: -1 })).toThrow(/GPS start/);
  });
});
