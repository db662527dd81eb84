/**
 * Small, fast, seeded generators. A chunk's randomness is derived from (seed, seq) alone, so chunk
 * k can be recomputed anywhere (a resumed run, a worker on another host) without replaying 0..k-1.
 */

/** A 32-bit mix of a seed and a sequence number (murmur3 finaliser over both words). */
export function mixSeed(seed: number, seq: number, stream = 0): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(seq + 0x7f4a7c15, 0xc2b2ae35) ^ Math.imul(stream + 1, 0x27d4eb2f);
  h ^= Math.floor(seq / 2 ** 32) * 0x165667b1;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** sfc32: a 128-bit-state generator that passes PractRand; returns uniform floats in [0, 1). */
export function sfc32(seedA: number, seedB: number, seedC: number, seedD: number): () => number {
  let a = seedA | 0;
  let b = seedB | 0;
  let c = seedC | 0;
  let d = seedD | 0;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let warm = 0; warm < 12; warm++) next();
  return next;
}

/** The generator for chunk `seq` of a stream seeded with `seed`. */
export function generatorFor(seed: number, seq: number): () => number {
  return sfc32(mixSeed(seed, seq, 0), mixSeed(seed, seq, 1), mixSeed(seed, seq, 2), mixSeed(seed, seq, 3));
}

/** A uniform integer in [0, n) for (seed, seq): the random-order slice choice. */
export function drawIndex(seed: number, seq: number, n: number): number {
  return Math.floor(generatorFor(seed, seq)() * n);
}
