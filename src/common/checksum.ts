import { createHash } from 'node:crypto';
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
