import { describe, expect, it } from 'vitest';
import { warmUpDecoder } from '../../src/downloader/process-chunk.js';
import { verifyChunkContent } from '../../src/downloader/verify-chunk.js';
import { decodePathCounts } from '../../src/strain/chunk-decoding.js';
import { encodeChunk } from '../../src/strain/index.js';

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
