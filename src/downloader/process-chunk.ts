/**
 * What a download worker does with one chunk, wherever it runs (a `download-worker` process's BullMQ
 * worker, or the download process itself with `--workers 0`): fetch the chunk from its best replica,
 * verify adler32 and md5 against the catalog, decode it and check its metadata, and only then write it
 * atomically into the destination. Nothing here knows of queues: loading it loads no BullMQ.
 */
import { checksums } from '../common/checksum.js';
import { definedProps } from '../common/defined.js';
import { errorMessage } from '../common/errors.js';
import type { ChunkShapeAnnouncement } from '../common/stream-schedule.js';
import { describeFsError, isUnwritableError } from '../common/writable-dir.js';
import { ChecksumMismatchError, fetchVerified, safeDestination, writeFileAtomically, type FetchedReplica, type RucioClient } from '../rucio/index.js';
import type { ChunkShape } from '../strain/index.js';
import type { ChunkOutcome, CorruptReadRecord, DownloadJob } from './download-job.js';
import type { ContentVerdict } from './verify-chunk.js';

/** A chunk no further attempt can help: its name cannot be a file under --dest. */
export class FinalChunkError extends Error {
  override readonly name = 'FinalChunkError';
}

/**
 * Why a failed attempt is final (no retry can help), or undefined when another attempt may succeed:
 * a name refused before any fetch, or a destination that cannot take the file (full, read-only,
 * forbidden), which will not take it on the next attempt either (the download then checks it).
 */
export function finalFailure(error: unknown, data: Pick<DownloadJob, 'destDir'>): string | undefined {
  if (error instanceof FinalChunkError) return error.message;
  if (isUnwritableError(error)) return `cannot write the chunk under ${data.destDir ?? '--dir'}: ${describeFsError(error)}`;
  return undefined;
}

type ContentVerifier = typeof import('./verify-chunk.js');
let contentVerifier: Promise<ContentVerifier> | undefined;

/**
 * The second half of verification (verify-chunk.ts), loaded on first use: it brings the HDF5
 * decoder, whose WebAssembly (3.5 MB) V8 compiles when it loads. A worker process starts taking
 * jobs without waiting for it, and its first chunk is fetched while it compiles; every chunk is
 * still decoded and checked before its answer.
 */
export function loadContentVerifier(): Promise<ContentVerifier> {
  contentVerifier ??= import('./verify-chunk.js');
  return contentVerifier;
}

/**
 * Fetches and verifies one chunk; throws only for failures worth another attempt (storage down...).
 * Every corrupted read goes into the answer, also one a later good read made up for, and a job that
 * read corrupted bytes before a transient failure answers `corrupted` rather than throwing, so that
 * no bad read the lake served goes unlogged.
 */
export async function processChunk(rucio: RucioClient, data: DownloadJob): Promise<ChunkOutcome> {
  if (data.destDir !== undefined) {
    // A DID name that cannot be a file under --dest fails its chunk at once, before any fetch: no retry changes a name.
    try {
      safeDestination(data.destDir, data.relativeName);
    } catch (error) {
      throw new FinalChunkError(errorMessage(error));
    }
  }
  const verifier = loadContentVerifier();
  const corruptReads: CorruptReadRecord[] = [];
  const expected = { expectedBytes: data.replica.bytes, ...definedProps({ expectedAdler32: data.replica.adler32 || undefined, expectedMd5: data.replica.md5 || undefined }) };
  let fetched: FetchedReplica;
  try {
    fetched = await fetchVerified(rucio, data.replica, { onCorruptRead: (read) => corruptReads.push({ ...read, tRead: Date.now() }) });
  } catch (error) {
    if (error instanceof ChecksumMismatchError || corruptReads.length > 0) {
      const reason = error instanceof ChecksumMismatchError ? errorMessage(error) : `${corruptReads.length} corrupted read(s), then: ${errorMessage(error)}`;
      return { status: 'corrupted', ...expected, corruptReads, replicaAttempts: corruptReads.at(-1)?.attempt ?? 0, tDownloaded: Date.now(), reason };
    }
    throw error;
  }
  const tDownloaded = Date.now();
  const { verifyChunkContent, ContentError } = await verifier;
  let verdict: ContentVerdict;
  try {
    verdict = verifyChunkContent(data.name, fetched.bytes, { deferLearning: learnAfterAnswer });
  } catch (error) {
    if (!(error instanceof ContentError)) throw error;
    const identity = error.identity === undefined ? {} : { run: error.identity.run, seq: error.identity.seq, tAvail: error.identity.tAvail };
    return { status: 'invalid', ...fetchedFields(fetched), ...identity, corruptReads, tDownloaded, reason: error.message };
  }
  const path = data.destDir === undefined ? undefined : await writeFileAtomically(data.destDir, data.relativeName, fetched.bytes);
  const origin = verdict.kind === 'foreign' ? { foreign: true } : { run: verdict.decoded.runId, seq: verdict.decoded.seq, tAvail: verdict.decoded.tAvail };
  return {
    status: 'verified',
    ...fetchedFields(fetched),
    corruptReads,
    tDownloaded,
    tVerified: Date.now(),
    ...origin,
    ...definedProps({ path }),
  };
}

function fetchedFields(fetched: FetchedReplica): { bytes: number; adler32: string; md5: string; pfn: string; rse: string; replicaAttempts: number } {
  return {
    bytes: fetched.bytes.byteLength,
    adler32: fetched.adler32,
    md5: fetched.md5,
    pfn: fetched.pfn,
    rse: fetched.rse,
    replicaAttempts: fetched.attempts,
  };
}

/**
 * The first chunk of each upload run is decoded by h5wasm, complete and checked, and teaches the
 * decoder that run's template so that later chunks are read straight from their bytes. Building
 * the template (~10 ms) waits until this chunk's answer is on its way: a timer fires after the
 * job's completion has been written to Redis (promise callbacks, which carry it, run first).
 */
function learnAfterAnswer(learn: () => void): void {
  setTimeout(learn, 0);
}

/**
 * How many times a chunk of an announced shape is verified through its template, and checksummed,
 * before the shape's first real chunk: enough runs for V8 to optimise that path as it has for later
 * chunks (the decoder warm-up's one template decode, on another shape, left chunk 0 ~1 ms slower).
 */
const shapeWarmUpRounds = 4;

/**
 * Prepares this process's decoder for chunks of an announced shape (rehearse relays its upload's
 * run_started), so that the first of them is verified like the others: the shape's template is
 * built at once (expectChunkShape: a wrong or hostile shape only leaves chunks to the full h5wasm
 * decode, it cannot make one decode wrongly), then a chunk of that shape goes through verification
 * and checksums a few times. Resolves to whether the template is ready; never throws.
 */
export async function prepareForChunkShape(shape: ChunkShape): Promise<boolean> {
  try {
    const [{ verifyChunkContent }, { expectChunkShape }, chunkEncoding] = await Promise.all([
      loadContentVerifier(),
      import('../strain/chunk-decoding.js'),
      import('../strain/chunk-encoding.js'),
    ]);
    if (!expectChunkShape(shape)) return false;
    const { name, bytes } = warmUpChunkFile(chunkEncoding, shape);
    for (let round = 0; round < shapeWarmUpRounds; round++) {
      verifyChunkContent(name, bytes);
      checksums(bytes);
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * The file a decoder warm-up verifies: a silent chunk of `shape`, encoded, under a name that agrees
 * with it (the encoder is passed in: this module loads the HDF5 code only when it is needed).
 */
function warmUpChunkFile(chunkEncoding: typeof import('../strain/chunk-encoding.js'), shape: ChunkShape): { name: string; bytes: Uint8Array } {
  const chunk = chunkEncoding.silentChunk(shape);
  return { name: `X-X_WARMUP-${chunk.gpsStart}-${chunk.duration}.hdf5`, bytes: chunkEncoding.encodeChunk(chunk, { tAvail: Date.now(), tag: 'WARMUP' }) };
}

/** A shape as a schedule line announces it (common/stream-schedule.ts), as the decoder takes it. */
export function announcedChunkShape(announced: ChunkShapeAnnouncement): ChunkShape {
  return {
    runId: announced.run_id,
    duration: announced.duration_s,
    sampleRate: announced.sample_rate_hz,
    detector: announced.detector,
    observatory: announced.observatory,
    sourceKind: announced.source_kind,
    sourceFile: announced.source_file,
    hasDq: announced.has_dq,
  };
}

/**
 * How many times the warm-up decodes its chunk with h5wasm: once, the first chunk of a run (which
 * always takes that path) still paid 4-6 ms, twice what h5wasm's JavaScript costs once V8 has
 * optimised it after a few runs (~2 ms); the checksums' loop likewise needs a few runs.
 */
const warmUpRounds = 4;

/**
 * Pays the first-chunk costs before the first chunk: loading the HDF5 library and compiling the
 * decoder and the checksums. A chunk of the common shape (1 s at 4096 Hz) is encoded, then
 * verified as a run's first chunk is (h5wasm, without learning its template) a few times, then
 * once more learning its template and once through the template; it is checksummed as often.
 */
export async function warmUpDecoder(): Promise<void> {
  const [{ verifyChunkContent }, chunkEncoding] = await Promise.all([loadContentVerifier(), import('../strain/chunk-encoding.js')]);
  const { name, bytes } = warmUpChunkFile(chunkEncoding, chunkEncoding.commonChunkShape('warmup'));
  const neverLearn = (): void => undefined;
  for (let round = 0; round < warmUpRounds; round++) {
    verifyChunkContent(name, bytes, { deferLearning: neverLearn });
    checksums(bytes);
  }
  verifyChunkContent(name, bytes);
  verifyChunkContent(name, bytes);
}
