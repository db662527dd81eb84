import { randomUUID } from 'node:crypto';
import { checksums as computeChecksums, sameAdler32, type Checksums } from '../common/checksum.js';
import { definedProps } from '../common/defined.js';
import type { AttachBatcher } from './attach-batcher.js';
import type { Did } from './client-dids.js';
import type { RucioClient } from './client.js';
import { DidConflictError, exceptionClassOf, rucioNotFound } from './errors.js';
import { ObjectExistsError, type ObjectStore, type PutOptions } from './object-store.js';

export type UploadMode = 'fast' | 'rucio-compatible';

export interface UploadRequest {
  scope: string;
  name: string;
  bytes: Uint8Array;
  dataset: Did;
  rse: string;
  /** 32 hex digits, no dashes (Rucio's convention); generated when absent. */
  guid?: string;
  /**
   * `fast` (default): PUT, then one catalog call that registers the replica AVAILABLE and attaches
   * it. `rucio-compatible`: the official client's register-COPYING, PUT, mark-AVAILABLE, attach.
   */
  mode?: UploadMode;
  /** Checksums already computed by the caller (saves hashing the bytes twice). */
  checksums?: Checksums;
  /**
   * Set on a retried attempt (e.g. a BullMQ job with attemptsMade > 0): the catalog is read before
   * anything is written, so a DID registered with other bytes is refused without touching storage,
   * even on S3 servers that ignore `If-None-Match` (s3rver). Costs one catalog call, on retries only.
   */
  retry?: boolean;
  /**
   * `fast` mode: the catalog call goes through this batcher (built on the same client), which may
   * send it together with other uploads' to the same dataset and RSE. Each file's outcome, and the
   * recovery below, stay its own.
   */
  attachBatcher?: AttachBatcher;
  signal?: AbortSignal;
}

export interface UploadResult {
  scope: string;
  name: string;
  rse: string;
  pfn: string;
  bytes: number;
  adler32: string;
  md5: string;
  guid: string;
  /** The DID was already registered with these checksums (a retried upload): nothing new was created. */
  alreadyRegistered: boolean;
}

/** Conflicts that mean "this DID, replica or attachment already exists", i.e. a retried upload. */
const alreadyThere = new Set(['DataIdentifierAlreadyExists', 'FileAlreadyExists', 'Duplicate', 'DuplicateContent']);

/**
 * Uploads one file into a dataset on a deterministic RSE. After warm-up (RSE info cached) the
 * fast mode costs one storage PUT and one catalog call. Idempotent: when the DID exists with the
 * same adler32 the call completes whatever is missing (a lost object, replica, attachment) and
 * succeeds without writing over an AVAILABLE replica's object; with a different adler32 it throws
 * DidConflictError and never changes the catalog.
 */
export async function uploadFile(client: RucioClient, req: UploadRequest): Promise<UploadResult> {
  const sums = req.checksums ?? computeChecksums(req.bytes);
  const guid = req.guid ?? randomUUID().replaceAll('-', '');
  const did = `${req.scope}:${req.name}`;
  const target = await client.storage.writeTarget(req.rse, req.scope, req.name);
  const file = {
    scope: req.scope,
    name: req.name,
    bytes: req.bytes.byteLength,
    adler32: sums.adler32,
    md5: sums.md5,
    meta: { guid },
  };
  const result: UploadResult = {
    scope: req.scope,
    name: req.name,
    rse: req.rse,
    pfn: target.pfn,
    bytes: file.bytes,
    adler32: sums.adler32,
    md5: sums.md5,
    guid,
    alreadyRegistered: false,
  };
  const signal = definedProps({ signal: req.signal });
  const putOptions = { ...signal, md5: sums.md5, adler32: sums.adler32 };

  if (req.mode === 'rucio-compatible') {
    const existing = await existingFile(client, req.scope, req.name);
    if (existing !== undefined) {
      checkSame(did, existing, file);
      await completeExisting(client, req, file, target, putOptions);
      return { ...result, alreadyRegistered: true };
    }
    await client.addReplicas(req.rse, [{ ...file, state: 'C' }], { ignoreAvailability: true });
    await target.store.put(target.pfn, req.bytes, putOptions);
    await client.updateReplicas(req.rse, [{ ...file, state: 'A' }]);
    await client.attachDids(req.dataset.scope, req.dataset.name, [{ scope: req.scope, name: req.name }], signal);
    return result;
  }

  if (req.retry === true) {
    const existing = await existingFile(client, req.scope, req.name);
    if (existing !== undefined) {
      checkSame(did, existing, file);
      await completeExisting(client, req, file, target, putOptions);
      return { ...result, alreadyRegistered: true };
    }
  }
  // Whether the object at the PFN is one this call created (nothing was there): then it is ours to
  // remove if the catalog refuses the file.
  let createdObject = true;
  try {
    await target.store.put(target.pfn, req.bytes, { ...putOptions, ifAbsent: true });
  } catch (error) {
    if (!(error instanceof ObjectExistsError)) throw error;
    createdObject = false;
    // Something is at the PFN already: a retried upload, or another DID's bytes. Never clobber the latter.
    const existing = await existingFile(client, req.scope, req.name);
    if (existing !== undefined) {
      checkSame(did, existing, file);
      await completeExisting(client, req, file, target, putOptions);
      return { ...result, alreadyRegistered: true };
    }
    // A leftover of an upload that never reached the catalog: no consumer can have read it, safe to replace.
    await target.store.put(target.pfn, req.bytes, putOptions);
  }
  try {
    if (req.attachBatcher === undefined) await client.attachDids(req.dataset.scope, req.dataset.name, [file], { rse: req.rse, ...signal });
    else await req.attachBatcher.attach(req.dataset, file, { rse: req.rse, ...signal });
    return result;
  } catch (error) {
    const cls = exceptionClassOf(error);
    if (cls === 'FileConsistencyMismatch') {
      // The DID is registered with other checksums (a real Rucio answers HTTP 500): nothing was at
      // this PFN (e.g. the first upload went to another RSE), so the object just written is removed
      // and the conflict reported as such.
      const existing = await existingFile(client, req.scope, req.name);
      if (createdObject) await target.store.delete(target.pfn, signal).catch(() => undefined);
      if (existing !== undefined) checkSame(did, existing, file);
      throw error;
    }
    if (cls === undefined || !alreadyThere.has(cls)) throw error;
  }
  const existing = await existingFile(client, req.scope, req.name);
  if (existing === undefined) {
    // The conflict was about something else than the file (should not happen); register it explicitly.
    await client.addReplicas(req.rse, [{ ...file, state: 'A' }]);
    await client.attachDids(req.dataset.scope, req.dataset.name, [{ scope: req.scope, name: req.name }], signal);
    return result;
  }
  checkSame(did, existing, file);
  await completeExisting(client, req, file, target, putOptions);
  return { ...result, alreadyRegistered: true };
}

interface ExistingFile {
  adler32?: string | undefined;
  bytes?: number | undefined;
}

async function existingFile(client: RucioClient, scope: string, name: string): Promise<ExistingFile | undefined> {
  try {
    const meta = await client.getMetadata(scope, name);
    return {
      adler32: typeof meta.adler32 === 'string' ? meta.adler32 : undefined,
      bytes: typeof meta.bytes === 'number' ? meta.bytes : undefined,
    };
  } catch (error) {
    if (rucioNotFound(error)) return undefined;
    throw error;
  }
}

function checkSame(did: string, existing: ExistingFile, file: { adler32: string; bytes: number }): void {
  const sameSum = existing.adler32 !== undefined && sameAdler32(existing.adler32, file.adler32);
  const sameSize = existing.bytes === undefined || existing.bytes === file.bytes;
  if (!sameSum || !sameSize) throw new DidConflictError(did, existing, file);
}

/**
 * The DID exists with our checksums: make sure its object is in storage, its replica AVAILABLE on the
 * RSE and the file attached. An AVAILABLE replica's object is never written again, only restored when
 * it is missing: a consumer may have read and verified it already, and a rewrite would change the bytes
 * under it (storage that damages the new write turns a verified chunk corrupt; one that stores it
 * intact hides a corruption a consumer has already reported). A replica not AVAILABLE yet (a
 * rucio-compatible upload interrupted between its registration and its PUT) is read by nobody: its
 * bytes are written before it is declared AVAILABLE.
 */
async function completeExisting(
  client: RucioClient,
  req: UploadRequest,
  file: { scope: string; name: string; bytes: number; adler32: string; md5: string; meta: { guid: string } },
  target: { store: ObjectStore; pfn: string },
  putOptions: PutOptions,
): Promise<void> {
  let state: string | undefined;
  for await (const replica of client.listReplicas({ dids: [{ scope: req.scope, name: req.name }], rseExpression: req.rse, allStates: true })) {
    state = replica.states[req.rse];
  }
  if (state === 'AVAILABLE') {
    if ((await target.store.stat(target.pfn, putOptions)) === undefined) await restoreObject(target, req.bytes, putOptions);
  } else {
    await target.store.put(target.pfn, req.bytes, putOptions);
    if (state === undefined) await client.addReplicas(req.rse, [{ ...file, state: 'A' }]);
    else await client.updateReplicas(req.rse, [{ scope: req.scope, name: req.name, state: 'A' }]);
  }
  if (!(await client.isAttached({ scope: req.scope, name: req.name }, req.dataset))) {
    try {
      await client.attachDids(req.dataset.scope, req.dataset.name, [{ scope: req.scope, name: req.name }]);
    } catch (error) {
      const cls = exceptionClassOf(error);
      if (cls === undefined || !alreadyThere.has(cls)) throw error;
    }
  }
}

/** Writes a lost object again; one that reappeared meanwhile (another attempt restored it) is left as it is. */
async function restoreObject(target: { store: ObjectStore; pfn: string }, bytes: Uint8Array, putOptions: PutOptions): Promise<void> {
  try {
    await target.store.put(target.pfn, bytes, { ...putOptions, ifAbsent: true });
  } catch (error) {
    if (!(error instanceof ObjectExistsError)) throw error;
  }
}
