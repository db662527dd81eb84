import { sameAdler32 } from '../../src/common/checksum.js';
import type { DownloadChunkEvent, UploadChunkEvent } from '../../src/common/log-records.js';
import type { DatasetAudit } from './dataset-audit.js';

export interface SoakCheck {
  id: 'lost' | 'unlogged-uploads' | 'corrupt-accepted' | 'undetected-corruption' | 'corruption-count' | 'false-corruption' | 'dataset-duplicates' | 'log-duplicates' | 'faults-injected';
  ok: boolean;
  /** One line: what was measured. */
  summary: string;
  /** The names (first ten) behind a failed check. */
  examples: string[];
}

export interface SoakVerdictInput {
  scheduled: number;
  uploads: readonly UploadChunkEvent[];
  downloads: readonly DownloadChunkEvent[];
  audit: DatasetAudit;
  /** The lake's counter of objects it stored corrupted (corruptWriteRate/Burst). */
  corruptedWrites: number;
  /** Scheduled fault steps that could not be injected (with why). */
  notInjected: string[];
}

export interface SoakVerdict {
  ok: boolean;
  checks: SoakCheck[];
  counts: {
    scheduled: number;
    uploaded: number;
    verified: number;
    detectedCorrupt: number;
    corruptStored: number;
    corruptedWrites: number;
    lost: number;
    datasetFiles: number;
  };
}

const first = (names: Iterable<string>, max = 10): string[] => [...names].slice(0, max);

function repeated(names: Iterable<string>): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const name of names) (seen.has(name) ? twice : seen).add(name);
  return [...twice];
}

/**
 * The soak's verdict is about recovery and *detection*: the report exits 3 whenever a chunk is
 * corrupted, which a soak that injects corruption always has, so the soak decides from the logs and
 * from the lake's own view (listing and stored bytes) whether every chunk is accounted for.
 */
export function soakVerdict(input: SoakVerdictInput): SoakVerdict {
  const { audit } = input;
  const uploaded = input.uploads.filter((event) => event.event === 'uploaded');
  const verified = input.downloads.filter((event) => event.event === 'verified');
  const corrupted = input.downloads.filter((event) => event.event === 'corrupted');
  const verifiedNames = new Set(verified.map((event) => event.name));
  const detected = new Set(corrupted.map((event) => event.name));

  // Lost: a scheduled sequence number that never reached verified or detected-corrupted. The download
  // side knows each chunk's seq from its own metadata, so a chunk whose upload line is missing is
  // still found (and reported as an unlogged upload rather than as lost).
  const nameOfSeq = new Map<number, string>();
  for (const event of uploaded) nameOfSeq.set(event.seq, event.name);
  const downloadedName = new Map<number, string>();
  for (const event of input.downloads) if (event.seq !== undefined) downloadedName.set(event.seq, event.name);
  const lost: string[] = [];
  const unlogged: string[] = [];
  for (let seq = 0; seq < input.scheduled; seq++) {
    const name = nameOfSeq.get(seq) ?? downloadedName.get(seq);
    if (!nameOfSeq.has(seq)) unlogged.push(name === undefined ? `seq ${seq}: in no upload log and never downloaded` : `seq ${seq}: ${name} in no upload log`);
    if (name === undefined) lost.push(`seq ${seq} (never seen)`);
    else if (!verifiedNames.has(name) && !detected.has(name)) lost.push(name);
  }

  // Accepted corruption: a verified event whose checksums are not the catalog's, or a verified chunk
  // whose stored bytes are corrupt.
  const accepted: string[] = [];
  for (const event of verified) {
    const truth = audit.catalog.get(event.name);
    const differs =
      truth === undefined ||
      event.adler32 === undefined ||
      truth.adler32 === undefined ||
      !sameAdler32(event.adler32, truth.adler32) ||
      (event.md5 !== undefined && truth.md5 !== undefined && event.md5 !== truth.md5.toLowerCase());
    if (differs || audit.corruptStored.has(event.name)) accepted.push(event.name);
  }

  const undetected = [...audit.corruptStored].filter((name) => !detected.has(name));
  // Stored bytes never change once their replica is AVAILABLE, and the soak corrupts writes only: a chunk
  // read corrupted whose stored bytes are intact, also one read intact later, means the bytes changed
  // under the downloader (a rewrite of a registered object) or a good read was called corrupted.
  const falseAlarms = [...detected].filter((name) => !audit.corruptStored.has(name));
  const changedUnderReader = falseAlarms.filter((name) => verifiedNames.has(name));
  const uploadedNames = new Set(uploaded.map((event) => event.name));
  const notListed = [...uploadedNames].filter((name) => !audit.catalog.has(name));
  const duplicateUploads = repeated(uploaded.map((event) => event.name));
  const duplicateVerifications = repeated(verified.map((event) => event.name));

  const checks: SoakCheck[] = [
    {
      id: 'lost',
      ok: lost.length === 0,
      summary: `${lost.length} of ${input.scheduled} scheduled chunks neither verified nor detected corrupted`,
      examples: first(lost),
    },
    {
      id: 'unlogged-uploads',
      ok: unlogged.length === 0,
      summary: `${unlogged.length} scheduled chunks without an 'uploaded' line in any upload log`,
      examples: first(unlogged),
    },
    {
      id: 'corrupt-accepted',
      ok: accepted.length === 0,
      summary: `${accepted.length} verified chunks whose checksums or stored bytes differ from the catalog`,
      examples: first(accepted),
    },
    {
      id: 'undetected-corruption',
      ok: undetected.length === 0,
      summary: `${audit.corruptStored.size} stored objects corrupt (read back from the lake), ${undetected.length} of them never detected by the downloader`,
      examples: first(undetected),
    },
    {
      id: 'corruption-count',
      // A corrupted PUT whose upload attempt then failed (a 5xx on the attach, a killed worker) is
      // written again by the retry: the lake counted a corruption that no longer exists in storage.
      // That is only acceptable when the read-back audit agrees with what the downloader detected.
      ok: detected.size === input.corruptedWrites || (detected.size === audit.corruptStored.size && input.corruptedWrites > detected.size),
      summary:
        `${detected.size} distinct chunks detected corrupted; the lake corrupted ${input.corruptedWrites} writes` +
        (input.corruptedWrites > detected.size && detected.size === audit.corruptStored.size
          ? ` (${input.corruptedWrites - detected.size} overwritten by a retried upload: intact in storage, per the read-back)`
          : ''),
      examples: [],
    },
    {
      id: 'false-corruption',
      ok: falseAlarms.length === 0,
      summary:
        `${falseAlarms.length} chunks reported corrupted whose stored bytes are intact` +
        (changedUnderReader.length > 0 ? ` (${changedUnderReader.length} of them verified later: their bytes changed after a read)` : ''),
      examples: first(falseAlarms.map((name) => (verifiedNames.has(name) ? `${name} (corrupted, then verified)` : name))),
    },
    {
      id: 'dataset-duplicates',
      ok: audit.duplicateNames.length === 0 && audit.listed <= input.scheduled && notListed.length === 0 && audit.unreadable.length === 0,
      summary:
        `dataset lists ${audit.listed} files (${audit.duplicateNames.length} names repeated) for ${input.scheduled} scheduled, ${uploadedNames.size} logged uploaded` +
        (notListed.length > 0 ? `; ${notListed.length} uploaded chunks not listed` : '') +
        (audit.unreadable.length > 0 ? `; ${audit.unreadable.length} listed files unreadable` : ''),
      examples: first([...audit.duplicateNames, ...notListed, ...audit.unreadable.map((u) => `${u.name}: ${u.error}`)]),
    },
    {
      id: 'log-duplicates',
      ok: duplicateUploads.length === 0 && duplicateVerifications.length === 0,
      summary: `${duplicateUploads.length} chunks logged uploaded more than once, ${duplicateVerifications.length} verified more than once`,
      examples: first([...duplicateUploads.map((n) => `uploaded twice: ${n}`), ...duplicateVerifications.map((n) => `verified twice: ${n}`)]),
    },
    {
      id: 'faults-injected',
      ok: input.notInjected.length === 0,
      summary: input.notInjected.length === 0 ? 'every scheduled fault was injected' : `${input.notInjected.length} scheduled faults could not be injected`,
      examples: first(input.notInjected),
    },
  ];
  return {
    ok: checks.every((check) => check.ok),
    checks,
    counts: {
      scheduled: input.scheduled,
      uploaded: uploadedNames.size,
      verified: verifiedNames.size,
      detectedCorrupt: detected.size,
      corruptStored: audit.corruptStored.size,
      corruptedWrites: input.corruptedWrites,
      lost: lost.length,
      datasetFiles: audit.listed,
    },
  };
}
