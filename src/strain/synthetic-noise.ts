import { noteTransientBytes } from './memory-governor.js';
import { normal } from './normal.js';
import { generatorFor, Sfc32 } from './prng.js';

/**
 * Gaussian noise coloured roughly like a ground-based detector's strain: a steep low-frequency
 * "seismic wall" (white noise through two one-pole low-passes at 15 Hz) that carries most of the
 * power, a white floor in the bucket, and a floor rising with frequency above a few hundred Hz
 * (the first difference of white noise, like shot noise). Total standard deviation ~1e-21.
 *
 * Each chunk is computed from (seed, seq) only: the filters restart per chunk after a warm-up of a
 * few time constants, so chunk k never depends on chunk k-1 (chunk edges are not continuous; a
 * rehearsal moves bytes, it does not search them for signals).
 */
export const syntheticAmplitude = 1e-21;
const cornerHz = 15;
const lowShare = 0.9;
const whiteShare = 0.05;
const highShare = 0.05;

export class ColouredNoise {
  private readonly alpha: number;
  private readonly warmup: number;
  private readonly lowGain: number;
  private readonly whiteGain: number;
  private readonly highGain: number;

  constructor(
    readonly sampleRate: number,
    private readonly seed: number,
  ) {
    this.alpha = 1 - Math.exp((-2 * Math.PI * cornerHz) / sampleRate);
    this.warmup = Math.ceil((8 * sampleRate) / (2 * Math.PI * cornerHz));
    const lowStd = this.measureLowStd();
    this.lowGain = (syntheticAmplitude * Math.sqrt(lowShare)) / lowStd;
    this.whiteGain = syntheticAmplitude * Math.sqrt(whiteShare);
    this.highGain = (syntheticAmplitude * Math.sqrt(highShare)) / Math.SQRT2;
  }

  /** `count` samples of chunk `seq`. */
  generate(seq: number, count: number): Float64Array {
    const random = generatorFor(this.seed, seq);
    const out = new Float64Array(count);
    const { alpha, lowGain, whiteGain, highGain } = this;
    let stage1 = 0;
    let stage2 = 0;
    let previous = 0;
    for (let index = -this.warmup; index < count; index++) {
      const white = normal(random);
      stage1 += alpha * (white - stage1);
      stage2 += alpha * (stage1 - stage2);
      if (index >= 0) out[index] = lowGain * stage2 + whiteGain * white + highGain * (white - previous);
      previous = white;
    }
    noteTransientBytes(out.byteLength);
    return out;
  }

  /** Standard deviation of the two-pole low-pass output for unit white noise, measured once with a fixed generator. */
  private measureLowStd(): number {
    const random = new Sfc32(0x5eed, 1, 2, 3);
    const alpha = this.alpha;
    let stage1 = 0;
    let stage2 = 0;
    let sum = 0;
    let count = 0;
    const total = this.warmup + (1 << 16);
    for (let index = 0; index < total; index++) {
      const white = normal(random);
      stage1 += alpha * (white - stage1);
      stage2 += alpha * (stage1 - stage2);
      if (index >= this.warmup) {
        sum += stage2 * stage2;
        count++;
      }
    }
    return Math.sqrt(sum / count);
  }
}
