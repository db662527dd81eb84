/**
 * Small, fast, seeded generators. A chunk's randomness is derived from (seed, seq) alone, so chunk
 * k can be recomputed anywhere (a resumed run, a worker on another host) without replaying 0..k-1.
 */

/** A 32-bit mix of a seed and a sequence number (murmur3 finaliser over both words). */
function mixSeed(seed: number, seq: number, stream = 0): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(seq + 0x7f4a7c15, 0xc2b2ae35) ^ Math.imul(stream + 1, 0x27d4eb2f);
  h ^= Math.floor(seq / 2 ** 32) * 0x165667b1;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** sfc32: a 128-bit-state generator that passes PractRand; 32-bit words and floats in [0, 1). */
export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seedA: number, seedB: number, seedC: number, seedD: number) {
    this.a = seedA | 0;
    this.b = seedB | 0;
    this.c = seedC | 0;
    this.d = seedD | 0;
    for (let warm = 0; warm < 12; warm++) this.int32();
  }

  /** A uniformly distributed 32-bit word, as a signed int32. */
  int32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t;
  }

  float(): number {
    return (this.int32() >>> 0) / 4294967296;
  }
}

/** The generator for chunk `seq` of a stream seeded with `seed`. */
export function generatorFor(seed: number, seq: number): Sfc32 {
  return new Sfc32(mixSeed(seed, seq, 0), mixSeed(seed, seq, 1), mixSeed(seed, seq, 2), mixSeed(seed, seq, 3));
}

/** A uniform integer in [0, n) for (seed, seq): the random-order slice choice. */
export function drawIndex(seed: number, seq: number, n: number): number {
  return Math.floor(generatorFor(seed, seq).float() * n);
}
