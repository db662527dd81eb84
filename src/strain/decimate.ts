import { UsageError } from '../common/errors.js';

/**
 * An anti-aliasing decimator by an integer factor q: a linear-phase (zero-delay) low-pass FIR filter,
 * a Kaiser-windowed sinc, then every q-th sample, in float64 throughout (strain is ~1e-19 to 1e-18;
 * float32 resamplers lose half its digits).
 *
 * Design, for an output rate fo = fi / q:
 * - passband to 0.45 fo (90 % of the output Nyquist frequency), ripple below 1e-5 (0.0001 dB);
 * - stopband from 0.5 fo (the output Nyquist frequency) on, attenuated by at least 100 dB, so
 *   nothing folds back below the output Nyquist frequency with more than 1e-5 of its amplitude
 *   (content between 0.45 fo and 0.5 fo is partly attenuated: that band is lost);
 * - taps: 2M + 1 with M = ceil((100 - 7.95) / (2.285 · 2π · 0.05 / q) / 2) (Kaiser's formula;
 *   M = 256 for 16384 → 4096 Hz), normalised to a DC gain of exactly 1, so an offset (L1 data carries
 *   a large one) passes unchanged.
 * - edges: beyond the first and last sample the signal is continued by odd reflection
 *   (2·x[0] − x[k], as scipy's filtfilt pads), which keeps level and slope, so the first and last
 *   chunks of a file have no step transient.
 * - a NaN sample makes every output within M input samples of it NaN: a gap grows by M / fi seconds
 *   on each side, as any filter must.
 * Every output sample depends only on the input around it, so decimating a file chunk by chunk
 * (with M samples of margin) gives exactly the same samples as decimating it whole.
 */
export class Decimator {
  readonly halfLength: number;
  /** Taps 0..M of the symmetric filter (tap -k equals tap k). */
  private readonly half: Float64Array;

  constructor(readonly factor: number) {
    if (!Number.isSafeInteger(factor) || factor < 2) throw new UsageError(`decimation factor ${factor} must be a whole number >= 2`);
    const attenuationDb = 100;
    const transition = (2 * Math.PI * 0.05) / factor;
    this.halfLength = Math.ceil((attenuationDb - 7.95) / (2.285 * transition) / 2);
    const beta = 0.1102 * (attenuationDb - 8.7);
    const cutoff = 0.475 / factor;
    const taps = new Float64Array(2 * this.halfLength + 1);
    const i0Beta = besselI0(beta);
    let sum = 0;
    for (let k = -this.halfLength; k <= this.halfLength; k++) {
      const ratio = k / this.halfLength;
      const window = besselI0(beta * Math.sqrt(Math.max(0, 1 - ratio * ratio))) / i0Beta;
      const x = 2 * cutoff * k;
      const sinc = k === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const tap = 2 * cutoff * sinc * window;
      taps[k + this.halfLength] = tap;
      sum += tap;
    }
    this.half = taps.slice(this.halfLength).map((tap) => tap / sum);
  }

  /**
   * The output samples for input samples [start, start + count) of a signal of `total` samples;
   * `read(offset, length)` returns input samples (called once, for the range plus its margins that
   * lie inside the signal). `start` and `count` must be multiples of the factor.
   */
  decimate(read: (offset: number, length: number) => Float64Array, total: number, start: number, count: number): Float64Array {
    const q = this.factor;
    const m = this.halfLength;
    if (start % q !== 0 || count % q !== 0) throw new RangeError(`decimate: start ${start} and count ${count} must be multiples of ${q}`);
    if (total <= 2 * m) throw new UsageError(`a signal of ${total} samples is too short to resample (the filter needs more than ${2 * m})`);
    const from = Math.max(0, start - m);
    const to = Math.min(total, start + count + m);
    const input = read(from, to - from);
    // The input extended by odd reflection where the margins leave the signal.
    const extended = new Float64Array(count + 2 * m);
    const at = (position: number): number => input[position - from] as number;
    for (let index = 0; index < extended.length; index++) {
      const position = start - m + index;
      // Before the signal `from` is 0, after it `to` is `total`: the reflected samples were read.
      if (position < 0) extended[index] = 2 * at(0) - at(-position);
      else if (position >= total) extended[index] = 2 * at(total - 1) - at(2 * (total - 1) - position);
      else extended[index] = at(position);
    }
    const output = new Float64Array(count / q);
    // The taps are symmetric: one product per pair of samples equally far from the centre.
    const half = this.half;
    for (let j = 0; j < output.length; j++) {
      const centre = j * q + m;
      let acc = (half[0] as number) * (extended[centre] as number);
      for (let k = 1; k <= m; k++) acc += (half[k] as number) * ((extended[centre - k] as number) + (extended[centre + k] as number));
      output[j] = acc;
    }
    return output;
  }
}

/** The modified Bessel function of the first kind, order 0, by its power series (converges fast for the β used here). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const half = x / 2;
  for (let k = 1; k < 200; k++) {
    term *= (half / k) * (half / k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}
