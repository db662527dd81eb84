import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/common/errors.js';
import { applyGapPolicy, defaultGapPolicy, GapError, hasGap, parseGapPolicy, openSource, openStrainFile, writeGwoscFile, type ChunkSource } from '../../src/strain/index.js';
import { h1_16k, h1_4k, scratchDir, testSample } from '../fixtures/strain/files.js';

const scratch = scratchDir('strain-sources');
afterAll(() => scratch.cleanup());
const run = { runId: 'run-1', gpsStart: 1418400000 };

async function withSource<T>(source: Promise<ChunkSource>, use: (source: ChunkSource) => T): Promise<T> {
  const opened = await source;
  try {
    return use(opened);
  } finally {
    opened.close();
  }
}

describe('file source, sequential', () => {
  it('replays 1 s slices from the start offset on the rehearsal timeline and loops at the end', async () => {
    const file = await openStrainFile(h1_4k);
    const second = (k: number): Float64Array => file.readSlice(k * 4096, 4096);
    await withSource(openSource({ kind: 'file', path: h1_4k, order: 'sequential', startOffset: 30 }, run), (source) => {
      expect(source.sampleRate).toBe(4096);
      expect(source.description).toEqual({ kind: 'file', path: h1_4k, order: 'sequential', startOffset: 30 });
      const c0 = source.chunk(0);
      expect(c0).toMatchObject({ runId: 'run-1', seq: 0, gpsStart: 1418400000, duration: 1, sampleRate: 4096, detector: 'H1', observatory: 'H' });
      expect(c0.source).toEqual({ kind: 'file', file: 'H-H1_LOSC_4_V2-1126259446-32.hdf5', gpsStart: 1126259476 });
      expect(c0.samples).toEqual(second(30));
      expect(c0.dqMask).toEqual([127]);
      const c2 = source.chunk(2);
      expect(c2.gpsStart).toBe(1418400002);
      expect(c2.source.gpsStart).toBe(1126259446);
      expect(c2.samples).toEqual(second(0));
      expect(source.chunk(34).samples).toEqual(second(0));
      // Pure in seq: asking again, in any order, gives the same chunk.
      expect(source.chunk(0)).toEqual(c0);
    });
    file.close();
  });

  it('reads 16 kHz files and multi-second chunks', async () => {
    await withSource(openSource({ kind: 'file', path: h1_16k, order: 'sequential' }, { ...run, duration: 4 }), (source) => {
      const chunk = source.chunk(9);
      expect(chunk.samples.length).toBe(4 * 16384);
      expect(chunk.gpsStart).toBe(1418400036);
      expect(chunk.source.gpsStart).toBe(1126259446 + 4);
      expect(chunk.dqMask).toEqual([127, 127, 127, 127]);
    });
  });

  it('rejects offsets and specs that cannot work', async () => {
    await expect(openSource({ kind: 'file', path: h1_4k, order: 'sequential', startOffset: 32 }, run)).rejects.toThrow(/start offset 32 s/);
    await expect(openSource({ kind: 'file', path: h1_4k, order: 'sequential', startOffset: 3 }, { ...run, duration: 2 })).rejects.toThrow(UsageError);
    await expect(openSource({ kind: 'file', path: h1_4k, order: 'sideways' } as never, run)).rejects.toThrow(/invalid strain source/);
    await expect(openSource({ kind: 'synthetic', sampleRate: 4096, seed: 1 }, { runId: '', gpsStart: 1 })).rejects.toThrow(/invalid run timeline/);
    await expect(openSource({ kind: 'file', path: join(scratch.dir, 'missing.hdf5'), order: 'sequential' }, run)).rejects.toThrow(/no such file/);
  });
});

describe('file source, random', () => {
  it('draws the same slices for the same seed, whatever the order of the calls', async () => {
    const draw = (seed: number, seqs: number[]): Promise<number[]> =>
      withSource(openSource({ kind: 'file', path: h1_4k, order: 'random', seed }, run), (source) =>
        seqs.map((seq) => source.chunk(seq).source.gpsStart - 1126259446),
      );
    const seqs = Array.from({ length: 64 }, (_, index) => index);
    const forward = await draw(42, seqs);
    const backward = await draw(42, [...seqs].reverse());
    expect(backward.reverse()).toEqual(forward);
    expect(await draw(43, seqs)).not.toEqual(forward);
    expect(new Set(forward).size).toBeGreaterThan(20);
    expect(forward.every((second) => Number.isInteger(second) && second >= 0 && second < 32)).toBe(true);
  });

  it('fills the default seed and the absolute path into the description so the run can be resumed', async () => {
    await withSource(openSource({ kind: 'file', path: relative(process.cwd(), h1_4k), order: 'random' }, run), (source) => {
      expect(source.description).toEqual({ kind: 'file', path: h1_4k, order: 'random', startOffset: 0, seed: 0 });
    });
  });
});

describe('synthetic source', () => {
  it('is a pure function of (seed, seq) with amplitude around 1e-21', async () => {
    await withSource(openSource({ kind: 'synthetic', sampleRate: 4096, seed: 7 }, run), async (source) => {
      const again = await openSource({ kind: 'synthetic', sampleRate: 4096, seed: 7 }, run);
      const other = await openSource({ kind: 'synthetic', sampleRate: 4096, seed: 8 }, run);
      expect(again.chunk(12).samples).toEqual(source.chunk(12).samples);
      expect(other.chunk(12).samples).not.toEqual(source.chunk(12).samples);
      expect(source.chunk(12).samples).not.toEqual(source.chunk(13).samples);
      const chunk = source.chunk(5);
      expect(chunk).toMatchObject({ detector: 'H1', observatory: 'H', gpsStart: 1418400005, source: { kind: 'synthetic', gpsStart: 1418400005 } });
      let sum = 0;
      let squares = 0;
      for (let seq = 0; seq < 16; seq++) {
        for (const value of source.chunk(seq).samples) {
          sum += value;
          squares += value * value;
        }
      }
      const n = 16 * 4096;
      const std = Math.sqrt(squares / n - (sum / n) ** 2);
      expect(std).toBeGreaterThan(0.5e-21);
      expect(std).toBeLessThan(2e-21);
      expect(hasGap(chunk)).toBe(false);
    });
  });

  it('is coloured like a detector: a low-frequency wall, a bucket, and a rising high-frequency floor', async () => {
    const rate = 4096;
    await withSource(openSource({ kind: 'synthetic', sampleRate: rate, seed: 3 }, run), (source) => {
      // Goertzel power at a few frequencies, averaged over chunks.
      const power = (frequency: number): number => {
        let total = 0;
        for (let seq = 0; seq < 8; seq++) {
          const samples = source.chunk(seq).samples;
          const coefficient = 2 * Math.cos((2 * Math.PI * frequency) / rate);
          let s1 = 0;
          let s2 = 0;
          for (const value of samples) {
            const s0 = value + coefficient * s1 - s2;
            s2 = s1;
            s1 = s0;
          }
          total += s1 * s1 + s2 * s2 - coefficient * s1 * s2;
        }
        return total / 8;
      };
      const low = power(5);
      const bucket = power(200);
      const high = power(1800);
      expect(low / bucket).toBeGreaterThan(100);
      expect(high / bucket).toBeGreaterThan(2);
    });
  });

  it('works at 16 kHz and another detector', async () => {
    await withSource(openSource({ kind: 'synthetic', sampleRate: 16384, seed: 1, detector: 'V1' }, run), (source) => {
      expect(source.chunk(0).samples.length).toBe(16384);
      expect(source.chunk(0).observatory).toBe('V');
    });
  });
});

describe('NaN gaps', () => {
  it('applies skip, send and fail to chunks of a generated file with gaps', async () => {
    const path = join(scratch.dir, 'H-H1_GWOSC_4KHZ_R1-1187008882-4.hdf5');
    writeGwoscFile(path, {
      detector: 'H1',
      gpsStart: 1187008882,
      duration: 4,
      sampleRate: 4096,
      sample: (index) => (index >= 4096 + 100 && index < 4096 + 300 ? Number.NaN : testSample(index)),
      descriptionUrl: 'https://gwosc.org/',
    });
    await withSource(openSource({ kind: 'file', path, order: 'sequential' }, run), (source) => {
      const clean = source.chunk(0);
      const gappy = source.chunk(1);
      expect(hasGap(clean)).toBe(false);
      expect(hasGap(gappy)).toBe(true);
      expect(applyGapPolicy(clean, 'fail')).toEqual({ action: 'send' });
      const expectedGap = { nanSamples: 200, intervals: [{ gpsStart: 1187008883 + 100 / 4096, gpsEnd: 1187008883 + 300 / 4096 }] };
      expect(applyGapPolicy(gappy, 'skip')).toEqual({ action: 'skip', gap: expectedGap });
      expect(applyGapPolicy(gappy, 'send')).toEqual({ action: 'send', gap: expectedGap });
      expect(() => applyGapPolicy(gappy, 'fail')).toThrow(GapError);
      expect(defaultGapPolicy).toBe('skip');
      expect(parseGapPolicy('send')).toBe('send');
      expect(() => parseGapPolicy('ignore')).toThrow(/--on-gap "ignore" is not a gap policy/);
      expect(() => applyGapPolicy(gappy, 'fail')).toThrow(/chunk 1 of run run-1 .* holds 200 NaN samples from GPS 1187008883\.0244/);
    });
  });
});

describe('the ziggurat normal generator', () => {
  it('draws standard normal deviates (moments and tail mass)', async () => {
    const { normal } = await import('../../src/strain/normal.js');
    const { Sfc32 } = await import('../../src/strain/prng.js');
    const random = new Sfc32(1, 2, 3, 4);
    const n = 400_000;
    let sum = 0;
    let squares = 0;
    let fourth = 0;
    let beyond3 = 0;
    let beyond4 = 0;
    for (let index = 0; index < n; index++) {
      const x = normal(random);
      sum += x;
      squares += x * x;
      fourth += x ** 4;
      if (Math.abs(x) > 3) beyond3++;
      if (Math.abs(x) > 4) beyond4++;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.01);
    expect(squares / n).toBeCloseTo(1, 1);
    expect(fourth / n).toBeGreaterThan(2.85);
    expect(fourth / n).toBeLessThan(3.15);
    // P(|x| > 3) = 0.0027, P(|x| > 4) = 6.3e-5: the tail beyond the last layer is generated too.
    expect(beyond3 / n).toBeGreaterThan(0.0022);
    expect(beyond3 / n).toBeLessThan(0.0032);
    expect(beyond4).toBeGreaterThan(5);
    expect(beyond4).toBeLessThan(60);
  });
});
