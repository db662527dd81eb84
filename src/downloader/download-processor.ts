/**
 * The code that runs inside each download worker process (a BullMQ sandboxed processor): fetch one
 * chunk from the best replica, verify adler32 and md5 against the catalog, decode it and check its
 * metadata, and only then write it atomically into the destination. A worker that crashes or is
 * killed loses nothing: the job stays in Redis and is retried in a fresh process.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SandboxedJob } from 'bullmq';
import { IntegrityError, errorMessage } from '../common/errors.js';
import {
  ChecksumMismatchError,
  RucioClient,
  fetchVerified,
  rucioConfigFrom,
  writeFileAtomically,
  type FetchedReplica,
  type ReplicaRecord,
} from '../rucio/index.js';
import { parseDownloadJob, warmupJobName, type DownloadOutcome } from './download-job.js';
import { verifyChunkContent } from './verify-chunk.js';

/** The parent passes the Rucio settings through the environment (never through Redis). */
export const workerConfigEnv = 'WAVEFIER_DOWNLOAD_WORKER_RUCIO';

let client: RucioClient | undefined;
function rucio(): RucioClient {
  if (!client) {
    const raw = process.env[workerConfigEnv];
    if (raw === undefined) throw new Error(`${workerConfigEnv} is not set: download workers are started by wavefier download`);
    client = new RucioClient(rucioConfigFrom(JSON.parse(raw) as Parameters<typeof rucioConfigFrom>[0]));
  }
  return client;
}

export default async function processDownload(job: SandboxedJob): Promise<DownloadOutcome> {
  if (job.name === warmupJobName) {
    rucio();
    // Held briefly so that the warm-up jobs overlap and each starts its own process.
    await sleep(250);
    return { status: 'warmup' };
  }
  const data = parseDownloadJob(job.data);
  const replica: ReplicaRecord = data.replica;
  let fetched: FetchedReplica;
  try {
    fetched = await fetchVerified(rucio(), replica);
  } catch (error) {
    if (error instanceof ChecksumMismatchError) {
      const last = error.actual.at(-1);
      return {
        status: 'corrupted',
        bytes: last?.bytes ?? 0,
        ...(last === undefined ? {} : { adler32: last.adler32, md5: last.md5, pfn: last.pfn, rse: last.rse }),
        expectedAdler32: error.expected.adler32,
        ...(error.expected.md5 === undefined ? {} : { expectedMd5: error.expected.md5 }),
        replicaAttempts: error.actual.length,
        tDownloaded: Date.now(),
        reason: errorMessage(error),
      };
    }
    throw error;
  }
  const tDownloaded = Date.now();
  let decoded: ReturnType<typeof verifyChunkContent>;
  try {
    decoded = verifyChunkContent(data.name, fetched.bytes);
  } catch (error) {
    if (!(error instanceof IntegrityError)) throw error;
    return { status: 'corrupted', ...fetchedFields(fetched), tDownloaded, reason: error.message };
  }
  const path = data.destDir === undefined ? undefined : await writeFileAtomically(data.destDir, data.relativeName, fetched.bytes);
  return {
    status: 'verified',
    ...fetchedFields(fetched),
    tDownloaded,
    tVerified: Date.now(),
    run: decoded.runId,
    seq: decoded.seq,
    tAvail: decoded.tAvail,
    ...(path === undefined ? {} : { path }),
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
