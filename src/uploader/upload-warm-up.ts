import { randomBytes, randomUUID } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import { checksums, warmUpChecksums, type Checksums } from '../common/checksum.js';
import { AttachBatcher, StorageTransientError, exceptionClassOf, warmUpStorage, type ObjectStore, type RucioClient } from '../rucio/index.js';
import { commonChunkShape, encodeChunk, silentChunk, type Chunk } from '../strain/index.js';
import { chunkOf, jobChunk, parseUploadJob, type UploadJob } from './job.js';

/** What an upload worker's warm-up needs of its run. */
export interface UploadWarmUpTarget {
  scope: string;
  dataset: string;
  rse: string;
  tag: string;
  /** A chunk of the run's shape (its first): parsed, encoded and hashed as a job's would be, never stored. */
  chunk: Chunk;
}

/**
 * How many times the warm-up runs a worker's local path (validation, encoding, checksums): V8
 * optimises a function after it has run a few times, and the checksum loop is deoptimised and
 * optimised again on its second and third runs; once, chunk 0 paid 1-3 ms more than chunk 1.
 */
const localRounds = 4;

/**
 * How many times the warm-up sends the PUT and the catalog call it sends (each refused, see below):
 * the code on both ends of a request, like the local path, runs faster from its second or third run
 * on, and with one round chunk 0's PUT and attach still took 2-4 ms longer than the next chunks'.
 */
const requestRounds = 3;

/**
 * Pays the first chunk's costs in this process before the run's schedule is fixed, with the code
 * the workers run: the job's validation (zod compiles a schema on its first parse), the HDF5
 * encoder and the checksums on a chunk of the run's shape (encodeAsWorkers, a few rounds), the
 * storage (warmUpStorage: the RSE, its store, the connection; on S3 also the PUT itself, see
 * putRefused), and the catalog call of an upload (attachRefused: the request, and the server's
 * route, body parsing and validation of it), each request a few times. Nothing is enqueued, stored
 * or registered: the dataset and the logs never see it. Resolves to whether the storage answered as
 * expected; never throws (the first chunk meets any problem again and reports it).
 */
export async function warmUpUploads(rucio: RucioClient, target: UploadWarmUpTarget): Promise<boolean> {
  const probeName = `wavefier-warm-up-probe-${randomBytes(8).toString('hex')}`;
  let local = encodeAsWorkers(target, probeName);
  for (let round = 1; round < localRounds && local !== undefined; round++) {
    // The event loop turns between rounds: V8 installs the code it optimised meanwhile there.
    await setImmediate();
    local = encodeAsWorkers(target, probeName);
  }
  if (local === undefined) return false;
  const encoded = local;
  const storage = warmUpStorage(rucio, target.rse, target.scope, 'write').then(async (warm) => {
    if (!warm) return false;
    try {
      for (let round = 0; round < requestRounds; round++) {
        // Found as an upload finds where its file goes, each round.
        const probe = await rucio.storage.writeTarget(target.rse, target.scope, probeName);
        if (probe.store.scheme !== 's3') return true;
        const answer = await putRefused(probe.store, probe.pfn, encoded.bytes, encoded.sums);
        // A storage that stored the probe (and had it removed) is not sent another.
        if (answer !== 'refused') return answer === 'stored';
      }
      return true;
    } catch {
      return false;
    }
  });
  const catalog = async (): Promise<void> => {
    // Through an AttachBatcher, as a worker sends an upload's catalog call; counted as probes.
    const batcher = new AttachBatcher({ attachDids: (scope, dataset, dids, options) => rucio.attachDids(scope, dataset, dids, { ...options, probe: true }) });
    for (let round = 0; round < requestRounds; round++) {
      // Any other answer than the expected refusal is left to the first chunk: no further round.
      if (!(await attachRefused(batcher, target, probeName, encoded))) return;
    }
  };
  // The checksums' adler32 loop also over noise of other sizes, as warmUpChecksums explains: after the
  // rounds above alone, chunk 0's checksums still took 1-5 ms where the next chunks' took 0.2.
  const [storageWarm] = await Promise.all([storage, catalog(), warmUpChecksums()]);
  return storageWarm;
}

/**
 * A job for `target.chunk` named `name` goes through the worker's validation, encoding and hashing
 * (compiling that code), and is dropped; undefined if any of it failed.
 */
export function encodeAsWorkers(target: UploadWarmUpTarget, name = 'wavefier-warm-up'): { bytes: Uint8Array; sums: Checksums } | undefined {
  const { chunk } = target;
  try {
    const job = parseUploadJob({
      v: 2,
      run: chunk.runId,
      seq: chunk.seq,
      name,
      gps: chunk.gpsStart,
      scope: target.scope,
      dataset: target.dataset,
      rse: target.rse,
      tag: target.tag,
      tAvail: Date.now(),
      tEnqueued: Date.now(),
      late: false,
      chunk: jobChunk(chunk),
    } satisfies UploadJob);
    const bytes = encodeChunk(chunkOf(job, chunk.samples), { tAvail: job.tAvail, tag: job.tag });
    return { bytes, sums: checksums(bytes) };
  } catch {
    return undefined;
  }
}

/**
 * A chunk of the common shape (1 s at 4096 Hz, silent) for a warm-up that has no chunk of its run
 * at hand: `upload-worker` processes never read the run's source.
 */
export function warmUpChunk(runId: string): Chunk {
  return silentChunk(commonChunkShape(runId));
}

/**
 * Sends an upload's catalog call (register the file on the RSE and attach it, as AttachBatcher
 * sends it) for the probe file, to a dataset of the run's scope that does not exist: Rucio looks
 * the dataset up first and answers 404 DataIdentifierNotFound in a transaction that wrote nothing
 * (core/did.py attach_dids_to_dids), and so does the embedded lake. Resolves to whether it was
 * refused so; any other answer is left to the first chunk.
 */
async function attachRefused(batcher: AttachBatcher, target: UploadWarmUpTarget, probeName: string, encoded: { bytes: Uint8Array; sums: Checksums }): Promise<boolean> {
  const file = {
    scope: target.scope,
    name: probeName,
    bytes: encoded.bytes.byteLength,
    adler32: encoded.sums.adler32,
    md5: encoded.sums.md5,
    meta: { guid: randomUUID().replaceAll('-', '') },
  };
  try {
    await batcher.attach({ scope: target.scope, name: `${probeName}-dataset` }, file, { rse: target.rse });
  } catch (error) {
    return exceptionClassOf(error) === 'DataIdentifierNotFound';
  }
  return false;
}

/**
 * Sends a PUT of the chunk's bytes with the md5 of other bytes to a key no chunk has: S3 reads the
 * body, finds that it does not match, and stores nothing (400 BadDigest). The request, its
 * signature, the body's transfer and the server's side of a PUT have all run once. A storage that
 * does not check Content-MD5 stores the probe: it is removed again at once ('stored'). 'failed':
 * any other answer.
 */
async function putRefused(store: ObjectStore, pfn: string, bytes: Uint8Array, sums: Checksums): Promise<'refused' | 'stored' | 'failed'> {
  const otherMd5 = sums.md5 === '0'.repeat(32) ? 'f'.repeat(32) : '0'.repeat(32);
  try {
    await store.put(pfn, bytes, { md5: otherMd5, adler32: sums.adler32, ifAbsent: true });
  } catch (error) {
    return error instanceof StorageTransientError && error.operation === 'put' && error.message.includes('BadDigest') ? 'refused' : 'failed';
  }
  await store.delete(pfn).catch(() => undefined);
  return 'stored';
}
