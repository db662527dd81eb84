import { createHash, randomBytes } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import ADLER32 from 'adler-32';

/**
 * Rucio's checksum conventions: adler32 as 8 lowercase, zero-padded hex digits ('%08x'), md5 as
 * 32 lowercase hex digits. The server rejects an unpadded adler32, and some storages drop the
 * leading zeros, so comparisons go through `sameAdler32`.
 */

export interface Checksums {
  adler32: string;
  md5: string;
}

/** Incremental adler32 + md5 over a stream of byte chunks. */
export class ChecksumAccumulator {
  private adler = 1;
  private readonly md5 = createHash('md5');
  private length = 0;

  update(bytes: Uint8Array): this {
    this.adler = ADLER32.buf(bytes, this.adler);
    this.md5.update(bytes);
    this.length += bytes.byteLength;
    return this;
  }

  get bytes(): number {
    return this.length;
  }

  digest(): Checksums {
    return { adler32: formatAdler32(this.adler), md5: this.md5.digest('hex') };
  }
}

export function adler32(bytes: Uint8Array): string {
  return formatAdler32(ADLER32.buf(bytes, 1));
}

export function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

export function checksums(bytes: Uint8Array): Checksums {
  return { adler32: adler32(bytes), md5: md5(bytes) };
}

function formatAdler32(signed: number): string {
  // The library returns a signed 32-bit integer; Rucio's value is the unsigned one.
  return (signed >>> 0).toString(16).padStart(8, '0');
}

/** Compares adler32 values the way Rucio does after rucio#4127: case- and leading-zero-insensitive. */
export function sameAdler32(a: string, b: string): boolean {
  const strip = (value: string): string => value.toLowerCase().replace(/^0+(?=.)/, '');
  return strip(a) === strip(b);
}

/** Rounds of warmUpChecksums, over this many bytes (about a 1 s chunk at 4 kHz: 32 KiB of samples and their HDF5). */
const warmUpRounds = 8;
const warmUpBytes = 64 * 1024;

/**
 * Pays the first verification's cost before the first file. adler32 is a JavaScript loop that V8
 * optimises only after it has run over a few large buffers, and whose first optimised versions it
 * drops again when a sum meets what it has not seen yet (a warm-up chunk of zeros keeps the sums
 * small; a chunk of noise does not): after the decoder's warm-up over a zero chunk, the first real
 * chunk's checksums still took 1-3 ms instead of 0.15. So: noise, several rounds, and the event loop
 * turns between them (optimised code is installed there), in both byte arrays the stores hand back
 * (Uint8Array from HTTP bodies, Buffer from files).
 */
export async function warmUpChecksums(): Promise<void> {
  const noise = randomBytes(warmUpBytes);
  const plain = new Uint8Array(noise);
  for (let round = 0; round < warmUpRounds; round++) {
    checksums(round % 2 === 0 ? plain : noise);
    await setImmediate();
  }
}
