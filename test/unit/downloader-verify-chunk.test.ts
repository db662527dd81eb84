import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContentError, verifyChunkContent } from '../../src/downloader/verify-chunk.js';
import { encodeChunk } from '../../src/strain/index.js';
import { DiskFile } from '../../src/strain/hdf5.js';
import { sharedDir } from '../helpers/cli.js';

/**
 * The content half of verification, once the checksums matched the catalog: a wavefier chunk, a
 * foreign file (not a chunk at all: verified as it is), or a content error (a chunk that is not what
 * it should be), which is not a checksum mismatch.
 */

const scratch = mkdtempSync(join(tmpdir(), 'wavefier-verify-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function chunkBytes(gpsStart: number): Uint8Array {
  return encodeChunk(
    {
      runId: 'pd01',
      seq: 4,
      gpsStart,
      duration: 1,
      sampleRate: 1024,
      samples: new Float64Array(1024).fill(1e-21),
      detector: 'V1',
      observatory: 'V',
      source: { kind: 'synthetic', gpsStart },
    },
    { tAvail: 1_764_158_400_000, tag: 'TEST' },
  );
}

describe('chunk content verification', () => {
  it('decodes a chunk and gives its identity', () => {
    const verdict = verifyChunkContent('V-V1_TEST-1400000004-1.hdf5', chunkBytes(1_400_000_004));
    expect(verdict.kind).toBe('chunk');
    if (verdict.kind === 'chunk') expect(verdict.decoded).toMatchObject({ runId: 'pd01', seq: 4, tAvail: 1_764_158_400_000 });
  });

  it('calls a file that is no wavefier chunk foreign: a GWOSC file, a text file', () => {
    const gwosc = readFileSync(join(sharedDir, 'data', 'gwosc', 'H-H1_LOSC_4_V2-1126259446-32.hdf5'));
    expect(verifyChunkContent('H-H1_LOSC_4_V2-1126259446-32.hdf5', gwosc)).toEqual({
      kind: 'foreign',
      reason: 'H-H1_LOSC_4_V2-1126259446-32.hdf5: HDF5 without the root attribute wavefier_format: not a wavefier chunk',
    });
    expect(verifyChunkContent('notes.txt', Buffer.from('a text file uploaded with rucio upload\n'))).toMatchObject({ kind: 'foreign' });
  });

  it('calls a chunk whose content contradicts its name a content error, with the identity it carries', () => {
    let error: unknown;
    try {
      verifyChunkContent('V-V1_TEST-1400000009-1.hdf5', chunkBytes(1_400_000_004));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ContentError);
    expect((error as ContentError).message).toBe('chunk V-V1_TEST-1400000009-1.hdf5 holds GPS start 1400000004, but its name says 1400000009');
    expect((error as ContentError).identity).toEqual({ run: 'pd01', seq: 4, tAvail: 1_764_158_400_000 });
    // A content error is an integrity failure, and says which exit status it maps to.
    expect((error as ContentError).exitCode).toBe(3);
  });

  it('calls a file with the chunk attributes that does not decode a content error, not foreign', () => {
    const path = join(scratch, 'broken.hdf5');
    const file = new DiskFile(path, 'w');
    file.create_attribute('wavefier_format', BigInt64Array.of(1n), [], '<q');
    file.close();
    expect(() => verifyChunkContent('V-V1_TEST-1400000004-1.hdf5', readFileSync(path))).toThrow(
      /^chunk V-V1_TEST-1400000004-1\.hdf5 does not decode as a wavefier chunk: .*wavefier_source_kind/,
    );
  });
});
