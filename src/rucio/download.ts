import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { checksums, sameAdler32 } from '../common/checksum.js';
import { definedProps } from '../common/defined.js';
import { NotFoundError } from '../common/errors.js';
import { confinedPath } from '../common/safe-path.js';
import type { RucioClient } from './client.js';
import { ChecksumMismatchError } from './errors.js';
import type { ReplicaRecord } from './replicas.js';

/** One read whose bytes did not match the catalog; `attempt` counts every read of this fetch, from 1. */
export interface CorruptRead {
  attempt: number;
  pfn: string;
  rse: string;
  adler32: string;
  md5: string;
  bytes: number;
}

export interface FetchOptions {
  /** Reads per PFN before moving to the next replica (default 2, as the official client). */
  attemptsPerPfn?: number;
  signal?: AbortSignal;
  /** Told of every corrupted read as it happens, also of those a later good read makes up for. */
  onCorruptRead?: (read: CorruptRead) => void;
}

export interface FetchedReplica {
  bytes: Uint8Array;
  adler32: string;
  md5: string;
  pfn: string;
  rse: string;
  /** Storage reads it took, over all replicas. */
  attempts: number;
}

/**
 * Reads a file from its best AVAILABLE replica (catalog priority order), verifying size, adler32
 * and md5 against the catalog; a failed or corrupt read moves on to the next try or replica.
 * Throws ChecksumMismatchError when every replica read was corrupt, else the last read error.
 */
export async function fetchVerified(client: RucioClient, replica: ReplicaRecord, opts: FetchOptions = {}): Promise<FetchedReplica> {
  const did = `${replica.scope}:${replica.name}`;
  const perPfn = opts.attemptsPerPfn ?? 2;
  const candidates = replica.pfns.filter((p) => {
    const state = replica.states[p.rse];
    return state === undefined || state === 'AVAILABLE';
  });
  if (candidates.length === 0) {
    const copying = Object.values(replica.states).includes('COPYING');
    throw new NotFoundError(
      `download ${did} failed: no AVAILABLE replica (states: ${JSON.stringify(replica.states)}); ` +
        (copying
          ? 'a COPYING replica is one whose upload has not finished, or whose uploader could not mark it AVAILABLE: ' +
            "under Rucio's generic permission policy only an admin account may change replica states, so a non-admin " +
            "account's `rucio upload` leaves it COPYING (wavefier's fast upload registers replicas AVAILABLE); wait, or " +
            're-upload it with an admin account or wavefier'
          : 'wait for the upload to complete'),
    );
  }
  let attempts = 0;
  const corrupt: ChecksumMismatchError['actual'] = [];
  let lastError: unknown;
  let sawOtherError = false;
  for (const candidate of candidates) {
    let pfnCorrupt = false;
    for (let attempt = 0; attempt < perPfn; attempt++) {
      opts.signal?.throwIfAborted();
      attempts++;
      let bytes: Uint8Array;
      try {
        const store = await client.storage.forPfn(candidate.rse, candidate.pfn, 'read');
        bytes = await store.get(candidate.pfn, definedProps({ signal: opts.signal }));
      } catch (error) {
        lastError = error;
        // Missing objects and permanent errors will not change on a second read of this PFN.
        if ((error as { retryable?: boolean }).retryable !== true) break;
        continue;
      }
      const sums = checksums(bytes);
      const okSize = bytes.byteLength === replica.bytes;
      const okAdler = replica.adler32 === '' || sameAdler32(sums.adler32, replica.adler32);
      const okMd5 = replica.md5 === undefined || replica.md5 === '' || sums.md5 === replica.md5.toLowerCase();
      if (okSize && okAdler && okMd5 && (replica.adler32 !== '' || replica.md5 !== undefined)) {
        return { bytes, adler32: sums.adler32, md5: sums.md5, pfn: candidate.pfn, rse: candidate.rse, attempts };
      }
      pfnCorrupt = true;
      const read = { pfn: candidate.pfn, rse: candidate.rse, adler32: sums.adler32, md5: sums.md5, bytes: bytes.byteLength };
      corrupt.push(read);
      opts.onCorruptRead?.({ attempt: attempts, ...read });
    }
    if (!pfnCorrupt) sawOtherError = true;
  }
  if (corrupt.length > 0 && !sawOtherError) {
    throw new ChecksumMismatchError(did, { adler32: replica.adler32, md5: replica.md5, bytes: replica.bytes }, corrupt);
  }
  if (lastError instanceof Error) throw lastError;
  throw new ChecksumMismatchError(did, { adler32: replica.adler32, md5: replica.md5, bytes: replica.bytes }, corrupt);
}

/** `relativeName` (a DID name, perhaps under its dataset's) resolved inside `destDir`, refusing anything that would land elsewhere. */
export function safeDestination(destDir: string, relativeName: string): string {
  return confinedPath(destDir, relativeName, 'the file name', { nested: true, advice: `no file of it is written under ${destDir}` });
}

/** Directories already created by this process: saves a mkdir per file on the hot path. */
const knownDirs = new Set<string>();

/** Writes `bytes` to destDir/relativeName via a temporary file and a rename: readers never see a partial file. */
export async function writeFileAtomically(destDir: string, relativeName: string, bytes: Uint8Array): Promise<string> {
  const target = safeDestination(destDir, relativeName);
  const parent = dirname(target);
  const temp = `${target}.${randomBytes(6).toString('hex')}.part`;
  try {
    if (!knownDirs.has(parent)) {
      await mkdir(parent, { recursive: true });
      if (knownDirs.size > 10_000) knownDirs.clear();
      knownDirs.add(parent);
    }
    try {
      await writeFile(temp, bytes);
    } catch (error) {
      // The directory was removed behind our back: create it again once.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      knownDirs.delete(parent);
      await mkdir(parent, { recursive: true });
      await writeFile(temp, bytes);
    }
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  return target;
}

export interface DownloadOptions extends FetchOptions {
  destDir: string;
  /** Path under destDir (default: the file's name). */
  relativeName?: string;
  /** Keep an existing destination file whose checksums match instead of downloading again. */
  keep?: boolean;
}

export interface DownloadResult extends Omit<FetchedReplica, 'bytes'> {
  path: string;
  bytes: number;
  /** The destination already held a verified copy (with `keep`); nothing was read from storage. */
  alreadyPresent: boolean;
}

export async function downloadFile(client: RucioClient, replica: ReplicaRecord, opts: DownloadOptions): Promise<DownloadResult> {
  const relativeName = opts.relativeName ?? replica.name;
  const target = safeDestination(opts.destDir, relativeName);
  if (opts.keep === true) {
    const existing = await readFile(target).catch(() => undefined);
    if (existing !== undefined) {
      const sums = checksums(existing);
      if (existing.byteLength === replica.bytes && sameAdler32(sums.adler32, replica.adler32)) {
        return { path: target, bytes: existing.byteLength, adler32: sums.adler32, md5: sums.md5, pfn: '', rse: '', attempts: 0, alreadyPresent: true };
      }
    }
  }
  const fetched = await fetchVerified(client, replica, opts);
  const path = await writeFileAtomically(opts.destDir, relativeName, fetched.bytes);
  return {
    path,
    bytes: fetched.bytes.byteLength,
    adler32: fetched.adler32,
    md5: fetched.md5,
    pfn: fetched.pfn,
    rse: fetched.rse,
    attempts: fetched.attempts,
    alreadyPresent: false,
  };
}
