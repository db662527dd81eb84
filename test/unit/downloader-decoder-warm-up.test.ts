import { describe, expect, it } from 'vitest';
import { announcedChunkShape, prepareForChunkShape, warmUpDecoder } from '../../src/downloader/process-chunk.js';
import { verifyChunkContent } from '../../src/downloader/verify-chunk.js';
import { decodePathCounts } from '../../src/strain/chunk-decoding.js';
import { chunkShape, encodeChunk, type Chunk } from '../../src/strain/index.js';

describe("the download's decoder warm-up", () => {
  it("decodes its chunk as a run's first chunk a few times, then through the template it learnt; a real run's first chunk still gets a full decode", async () => {
    const before = decodePathCounts();
    await warmUpDecoder();
    const after = decodePathCounts();
    expect(after.h5wasm - before.h5wasm).toBe(5);
    expect(after.template - before.template).toBe(1);

    // The warm-up's template is its own: a chunk of another run is decoded in full and verified.
    const samples = Float64Array.from({ length: 4096 }, (_, index) => Math.sin(index / 10));
    const bytes = encodeChunk(
      { runId: 'after-warm-up', seq: 7, gpsStart: 1_400_000_007, duration: 1, sampleRate: 4096, samples, detector: 'V1', observatory: 'V', source: { kind: 'synthetic', gpsStart: 1_400_000_000 } },
      { tAvail: 1_700_000_000_000, tag: 'AFTER' },
    );
    const verdict = verifyChunkContent('V-V1_AFTER-1400000007-1.hdf5', bytes);
    expect(decodePathCounts().h5wasm - after.h5wasm).toBe(1);
    expect(verdict.kind).toBe('chunk');
    if (verdict.kind === 'chunk') {
      expect(verdict.decoded.runId).toBe('after-warm-up');
      expect(verdict.decoded.seq).toBe(7);
      expect(verdict.decoded.samples).toEqual(samples);
    }
  });
});

describe('a download told the shape of the chunks to come', () => {
  const chunk = (seq: number, overrides: Partial<Chunk> = {}): Chunk => ({
    runId: 'told-shape',
    seq,
    gpsStart: 1_400_000_000 + seq,
    duration: 1,
    sampleRate: 4096,
    samples: Float64Array.from({ length: 4096 }, (_, index) => Math.sin((index + seq) / 10)),
    detector: 'L1',
    observatory: 'L',
    source: { kind: 'file', file: 'L-L1_LOSC_4_V1-1167559920-32.hdf5', gpsStart: 1_167_559_920 + seq },
    dqMask: [127],
    ...overrides,
  });

  it("verifies the first of them through the template, its values as h5wasm reads them", async () => {
    // As the upload's run_started says it and the download reads it from the relayed line.
    const shape = announcedChunkShape({ run_id: 'told-shape', duration_s: 1, sample_rate_hz: 4096, detector: 'L1', observatory: 'L', source_kind: 'file', source_file: 'L-L1_LOSC_4_V1-1167559920-32.hdf5', has_dq: true });
    expect(shape).toEqual(chunkShape(chunk(0)));
    const before = decodePathCounts();
    expect(await prepareForChunkShape(shape)).toBe(true);
    const prepared = decodePathCounts();
    // Its own chunk, a few times, through the template it built: nothing through h5wasm.
    expect(prepared.h5wasm - before.h5wasm).toBe(0);
    expect(prepared.template - before.template).toBeGreaterThan(1);

    const first = chunk(0);
    const verdict = verifyChunkContent('L-L1_TOLD-1400000000-1.hdf5', encodeChunk(first, { tAvail: 1_700_000_000_000 }));
    expect(decodePathCounts()).toEqual({ h5wasm: prepared.h5wasm, template: prepared.template + 1 });
    expect(verdict).toMatchObject({ kind: 'chunk', decoded: { runId: 'told-shape', seq: 0, gpsStart: 1_400_000_000, tAvail: 1_700_000_000_000, dqMask: [127] } });
    if (verdict.kind === 'chunk') expect(verdict.decoded.samples).toEqual(first.samples);
  });

  it('verifies chunks of another shape than announced through h5wasm, as they are', async () => {
    const told = announcedChunkShape({ run_id: 'told-shape-wrong', duration_s: 1, sample_rate_hz: 4096, detector: 'L1', observatory: 'L', source_kind: 'synthetic', has_dq: false });
    expect(await prepareForChunkShape(told)).toBe(true);
    const real = chunk(3, { runId: 'real-shape' });
    const before = decodePathCounts();
    const verdict = verifyChunkContent('L-L1_REAL-1400000003-1.hdf5', encodeChunk(real, { tAvail: 1_700_000_000_003 }), { deferLearning: () => undefined });
    expect(decodePathCounts().h5wasm - before.h5wasm).toBe(1);
    expect(verdict).toMatchObject({ kind: 'chunk', decoded: { runId: 'real-shape', seq: 3, sourceKind: 'file', dqMask: [127] } });
    if (verdict.kind === 'chunk') expect(verdict.decoded.samples).toEqual(real.samples);
  });

  it('leaves a shape no chunk can have to the first chunk', async () => {
    const shape = announcedChunkShape({ run_id: 'told-nothing', duration_s: 1, sample_rate_hz: 4096, detector: 'L1', observatory: 'L', source_kind: 'synthetic', has_dq: false });
    expect(await prepareForChunkShape({ ...shape, duration: 0 })).toBe(false);
  });
});
