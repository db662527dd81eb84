import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/common/errors.js';
import { Decimator, failedDqSeconds, openSource, openStrainFileSync, requiredDqBits, writeGwoscFile, type ChunkSource } from '../../src/strain/index.js';
import { h1_16k, h1_4k, l1_4k, scratchDir } from '../fixtures/strain/files.js';

const scratch = scratchDir('strain-resample');
afterAll(() => scratch.cleanup());
const run = { runId: 'run-1', gpsStart: 1418400000 };

function moments(samples: Float64Array): { mean: number; std: number } {
  let sum = 0;
  for (const value of samples) sum += value;
  const mean = sum / samples.length;
  let squares = 0;
  for (const value of samples) squares += (value - mean) ** 2;
  return { mean, std: Math.sqrt(squares / samples.length) };
}

/** Pearson correlation of a[i] with b[i + lag] over the middle of the series. */
function correlation(a: Float64Array, b: Float64Array, lag: number): number {
  const ma = moments(a).mean;
  const mb = moments(b).mean;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let index = 1000; index < a.length - 1000; index++) {
    const x = (a[index] as number) - ma;
    const y = (b[index + lag] as number) - mb;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}

async function collect(source: ChunkSource, count: number): Promise<Float64Array> {
  const samplesPerChunk = source.sampleRate;
  const all = new Float64Array(count * samplesPerChunk);
  for (let seq = 0; seq < count; seq++) all.set(source.chunk(seq).samples, seq * samplesPerChunk);
  return Promise.resolve(all);
}

describe('--resample 4096 on the real 16 kHz GW150914 H1 file', () => {
  // Reference values of /work/shared/data/gwosc/README.md (h5py + numpy, float64).
  const reference16k = { mean: 5.91533651740874e-23, std: 2.229939790023498e-19, samples: 524288 };

  it('sends 4096-sample chunks whose moments match the file reference values and whose samples match the official 4 kHz product', async () => {
    const source = await openSource({ kind: 'file', path: h1_16k, order: 'sequential', resample: 4096 }, run);
    try {
      expect(source.sourceRate).toBe(16384);
      expect(source.sampleRate).toBe(4096);
      expect(source.wrapsAt).toBe(32);
      expect(source.chunk(0).samples.length).toBe(4096);
      const decimated = await collect(source, 32);
      expect(decimated.length).toBe(reference16k.samples / 4);
      const { mean, std } = moments(decimated);
      // The low-pass keeps DC exactly and removes only what lies above 1843 Hz, a sliver of the power.
      expect(Math.abs(mean - reference16k.mean)).toBeLessThan(1e-5 * reference16k.std);
      expect(Math.abs(std - reference16k.std) / reference16k.std).toBeLessThan(0.005);
      // The official 4 kHz file is the same detector data decimated by LOSC: sample for sample, with no delay.
      const official = openStrainFileSync(h1_4k);
      const official4k = official.readSlice(0, official.info.sampleCount);
      official.close();
      const atZero = correlation(decimated, official4k, 0);
      expect(atZero).toBeGreaterThan(0.9999);
      expect(atZero).toBeGreaterThan(correlation(decimated, official4k, 1));
      expect(atZero).toBeGreaterThan(correlation(decimated, official4k, -1));
    } finally {
      source.close();
    }
  });

  it('gives the same samples chunk by chunk as decimating the whole file at once', () => {
    const file = openStrainFileSync(h1_16k);
    try {
      const decimator = new Decimator(4);
      const read = (offset: number, count: number): Float64Array => file.readSlice(offset, count);
      const total = file.info.sampleCount;
      const whole = decimator.decimate(read, total, 0, total);
      for (const second of [0, 7, 31]) {
        const chunk = decimator.decimate(read, total, second * 16384, 16384);
        expect(chunk).toEqual(whole.subarray(second * 4096, (second + 1) * 4096));
      }
    } finally {
      file.close();
    }
  });
});

describe('the decimator', () => {
  const rate = 16384;
  const tone = (hz: number, amplitude: number) => (index: number) => amplitude * Math.sin((2 * Math.PI * hz * index) / rate);
  function through(decimator: Decimator, sample: (index: number) => number, seconds = 2): Float64Array {
    const input = Float64Array.from({ length: seconds * rate }, (_, index) => sample(index));
    return decimator.decimate((offset, count) => input.subarray(offset, offset + count), input.length, 0, input.length);
  }
  const rms = (samples: Float64Array): number => Math.sqrt(samples.slice(600, -600).reduce((sum, value) => sum + value * value, 0) / (samples.length - 1200));

  it('passes a tone below 90 % of the new Nyquist frequency unchanged (within 1e-4) and keeps an offset exactly', () => {
    const decimator = new Decimator(4);
    expect(rms(through(decimator, tone(1500, 1e-19))) / (1e-19 / Math.SQRT2)).toBeCloseTo(1, 4);
    const offset = through(decimator, () => -1.46e-18);
    for (const value of offset) expect(value).toBeCloseTo(-1.46e-18, 30);
  });

  it('attenuates what would fold back below the new Nyquist frequency by at least 100 dB', () => {
    const decimator = new Decimator(4);
    for (const hz of [2048, 2500, 4000, 7000]) {
      expect(20 * Math.log10(rms(through(decimator, tone(hz, 1))) / (1 / Math.SQRT2)), `${hz} Hz`).toBeLessThan(-99);
    }
  });

  it('continues the signal by odd reflection at the edges: a ramp stays a ramp, no step at the first and last chunk', () => {
    const decimator = new Decimator(4);
    const ramp = through(decimator, (index) => index * 1e-22, 1);
    ramp.forEach((value, j) => expect(value).toBeCloseTo(j * 4 * 1e-22, 30));
  });

  it('spreads a NaN only over the filter length around it', () => {
    const decimator = new Decimator(4);
    const out = through(decimator, (index) => (index === 8192 ? Number.NaN : 1e-20));
    const nan = [...out.keys()].filter((j) => Number.isNaN(out[j]));
    expect(Math.min(...nan)).toBe(Math.ceil((8192 - decimator.halfLength) / 4));
    expect(Math.max(...nan)).toBe(Math.floor((8192 + decimator.halfLength) / 4));
  });

  it('refuses a rate that is not a whole division of the file rate, or above it', async () => {
    await expect(openSource({ kind: 'file', path: h1_16k, order: 'sequential', resample: 5000 }, run)).rejects.toThrow(UsageError);
    await expect(openSource({ kind: 'file', path: l1_4k, order: 'sequential', resample: 16384 }, run)).rejects.toThrow(
      'cannot resample L-L1_LOSC_4_V1-1167559920-32.hdf5 from 4096 Hz to 16384 Hz: only a whole division',
    );
    const same = await openSource({ kind: 'file', path: l1_4k, order: 'sequential', resample: 4096 }, run);
    const plain = await openSource({ kind: 'file', path: l1_4k, order: 'sequential' }, run);
    expect(same.chunk(3).samples).toEqual(plain.chunk(3).samples);
    same.close();
    plain.close();
  });
});

describe('data quality of a chunk', () => {
  it('fails a second without DATA or a CAT1 flag, by the file flag names', () => {
    const names = ['DATA', 'CBC_CAT1', 'CBC_CAT2', 'CBC_CAT3', 'BURST_CAT1', 'BURST_CAT2', 'BURST_CAT3'];
    const required = requiredDqBits({ shortnames: names });
    expect(required).toBe(0b10011);
    expect(failedDqSeconds([127, 127], required)).toBe(0);
    expect(failedDqSeconds([127 & ~1, 127 & ~4, 127 & ~16], required)).toBe(2);
    expect(requiredDqBits({})).toBe(1);
  });

  it('marks the chunks of a file whose DQ mask fails, and none of the real files (all 127)', async () => {
    const path = join(scratch.dir, 'H-H1_DQ-1000000000-8.hdf5');
    writeGwoscFile(path, { detector: 'H1', gpsStart: 1_000_000_000, duration: 8, sampleRate: 4096, sample: () => 1e-21, dq: (second) => (second === 3 || second === 5 ? 126 : 127) });
    const source = await openSource({ kind: 'file', path, order: 'sequential' }, run);
    expect([...Array(8).keys()].map((seq) => source.chunk(seq).dqFailedSeconds)).toEqual([0, 0, 0, 1, 0, 1, 0, 0]);
    source.close();
    const real = await openSource({ kind: 'file', path: h1_4k, order: 'sequential' }, run);
    expect(real.chunk(0).dqFailedSeconds).toBe(0);
    real.close();
  });
});
