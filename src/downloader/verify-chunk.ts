import { IntegrityError, errorMessage } from '../common/errors.js';
import { NotAChunkError, decodeChunk, type DecodeOptions, type DecodedChunk } from '../strain/chunk-decoding.js';

const namePattern = /-(\d+)-(\d+(?:\.\d+)?)\.hdf5$/;

/** What a chunk says about itself when it decodes: the upload run, its seq and when it was available. */
export interface ChunkIdentity {
  run: string;
  seq: number;
  tAvail: number;
}

/**
 * Bytes that match the catalog's checksums but are not a valid chunk: a chunk that does not decode,
 * or whose content contradicts its name. Not a checksum mismatch (reading again gives the same
 * bytes), so it is not retried; `identity` is set when the chunk decoded far enough to say it.
 */
export class ContentError extends IntegrityError {
  constructor(
    message: string,
    readonly identity?: ChunkIdentity,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A verified file: a wavefier chunk (decoded), or a foreign file that is not a chunk at all. */
export type ContentVerdict = { kind: 'chunk'; decoded: DecodedChunk } | { kind: 'foreign'; reason: string };

/**
 * The second half of verification, after the checksums matched the catalog: are the bytes the chunk
 * the name promises? A file that is not a wavefier chunk at all (not HDF5, or HDF5 without the chunk
 * attributes: a GWOSC file, a text file added with `rucio upload`) is `foreign`: the catalog vouches
 * for its bytes, so it is as verified as any file. A chunk that does not decode, or decodes to
 * another GPS start, duration or sample count than its name says, throws ContentError.
 */
export function verifyChunkContent(name: string, bytes: Uint8Array, options: DecodeOptions = {}): ContentVerdict {
  let decoded: DecodedChunk;
  try {
    decoded = decodeChunk(bytes, name, options);
  } catch (error) {
    if (error instanceof NotAChunkError) return { kind: 'foreign', reason: error.message };
    throw new ContentError(`chunk ${name} does not decode as a wavefier chunk: ${errorMessage(error)}`, undefined, { cause: error });
  }
  const identity = Number.isInteger(decoded.seq) && decoded.seq >= 0 ? { run: decoded.runId, seq: decoded.seq, tAvail: decoded.tAvail } : undefined;
  const fail = (problem: string): ContentError => new ContentError(`chunk ${name} ${problem}`, identity);
  const match = namePattern.exec(name);
  if (match) {
    const gps = Number(match[1]);
    const duration = Number(match[2]);
    if (decoded.gpsStart !== gps) throw fail(`holds GPS start ${decoded.gpsStart}, but its name says ${gps}`);
    if (decoded.duration !== duration) throw fail(`holds ${decoded.duration} s of data, but its name says ${duration} s`);
  }
  const expectedSamples = Math.round(decoded.duration * decoded.sampleRate);
  if (decoded.samples.length !== expectedSamples) {
    throw fail(`holds ${decoded.samples.length} samples, expected ${expectedSamples} (${decoded.duration} s at ${decoded.sampleRate} Hz)`);
  }
  if (identity === undefined) throw fail(`carries an invalid sequence number ${decoded.seq}`);
  return { kind: 'chunk', decoded };
}
