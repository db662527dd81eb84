import { IntegrityError, errorMessage } from '../common/errors.js';
import { decodeChunk, type DecodedChunk } from '../strain/index.js';

const namePattern = /-(\d+)-(\d+(?:\.\d+)?)\.hdf5$/;

/**
 * The second half of verification: after the checksums match the catalog, the bytes must also be
 * the chunk the name promises. A chunk that decodes to another GPS start, duration or sample count
 * was written wrong at the source, and is as corrupted as one whose checksum differs.
 */
export function verifyChunkContent(name: string, bytes: Uint8Array): DecodedChunk {
  let decoded: DecodedChunk;
  try {
    decoded = decodeChunk(bytes);
  } catch (error) {
    throw new IntegrityError(`chunk ${name} does not decode as a wavefier chunk: ${errorMessage(error)}`, { cause: error });
  }
  const match = namePattern.exec(name);
  if (match) {
    const gps = Number(match[1]);
    const duration = Number(match[2]);
    if (decoded.gpsStart !== gps) {
      throw new IntegrityError(`chunk ${name} holds GPS start ${decoded.gpsStart}, but its name says ${gps}`);
    }
    if (decoded.duration !== duration) {
      throw new IntegrityError(`chunk ${name} holds ${decoded.duration} s of data, but its name says ${duration} s`);
    }
  }
  const expectedSamples = Math.round(decoded.duration * decoded.sampleRate);
  if (decoded.samples.length !== expectedSamples) {
    throw new IntegrityError(
      `chunk ${name} holds ${decoded.samples.length} samples, expected ${expectedSamples} (${decoded.duration} s at ${decoded.sampleRate} Hz)`,
    );
  }
  if (!Number.isInteger(decoded.seq) || decoded.seq < 0) {
    throw new IntegrityError(`chunk ${name} carries an invalid sequence number ${decoded.seq}`);
  }
  return decoded;
}
