import { checksums, sameAdler32 } from '../../src/common/checksum.js';
import { errorMessage } from '../../src/common/errors.js';
import { rucioNotFound, type ReplicaRecord, type RucioClient } from '../../src/rucio/index.js';

export interface CatalogChecksums {
  bytes: number | undefined;
  adler32: string | undefined;
  md5: string | undefined;
}

export interface DatasetAudit {
  /** Files the dataset lists (with repetitions, if the catalog ever repeats a name). */
  listed: number;
  /** Names the listing gives more than once. */
  duplicateNames: string[];
  catalog: Map<string, CatalogChecksums>;
  /** Files whose stored bytes differ from the catalog's checksums: what a consumer must never accept. */
  corruptStored: Set<string>;
  /** Listed files with no AVAILABLE replica, or whose object could not be read. */
  unreadable: { name: string; error: string }[];
}

/**
 * The ground truth after a soak, from the lake itself rather than from any log: list the dataset
 * (each name once?) and read every stored object back, comparing it with the catalog's checksums.
 * Run it with fault injection cleared, so that reads are not themselves disturbed.
 */
export async function auditDataset(client: RucioClient, scope: string, dataset: string, concurrency = 16): Promise<DatasetAudit> {
  const catalog = new Map<string, CatalogChecksums>();
  const seen = new Set<string>();
  const duplicateNames: string[] = [];
  let listed = 0;
  try {
    for await (const entry of client.listContent(scope, dataset)) {
      listed++;
      if (seen.has(entry.name)) duplicateNames.push(entry.name);
      seen.add(entry.name);
      catalog.set(entry.name, { bytes: entry.bytes ?? undefined, adler32: entry.adler32 ?? undefined, md5: entry.md5 ?? undefined });
    }
  } catch (error) {
    // A run stopped before the producer created its dataset has nothing in the lake: an empty audit.
    if (!rucioNotFound(error)) throw error;
    return { listed: 0, duplicateNames: [], catalog, corruptStored: new Set(), unreadable: [] };
  }

  const corruptStored = new Set<string>();
  const unreadable: { name: string; error: string }[] = [];
  const withReplica = new Set<string>();
  const replicas: ReplicaRecord[] = [];
  for await (const replica of client.listReplicas({ dids: [{ scope, name: dataset }] })) replicas.push(replica);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < replicas.length) {
      const replica = replicas[next++];
      if (replica === undefined) return;
      const pfn = replica.pfns.find((p) => (replica.states[p.rse] ?? 'AVAILABLE') === 'AVAILABLE');
      if (pfn === undefined) continue;
      withReplica.add(replica.name);
      try {
        const store = await client.storage.forPfn(pfn.rse, pfn.pfn, 'read');
        const bytes = await store.get(pfn.pfn);
        const sums = checksums(bytes);
        const same =
          bytes.byteLength === replica.bytes &&
          sameAdler32(sums.adler32, replica.adler32) &&
          (replica.md5 === undefined || replica.md5 === '' || replica.md5.toLowerCase() === sums.md5);
        if (!same) corruptStored.add(replica.name);
      } catch (error) {
        unreadable.push({ name: replica.name, error: errorMessage(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, () => worker()));
  for (const name of seen) if (!withReplica.has(name)) unreadable.push({ name, error: 'no AVAILABLE replica listed' });
  return { listed, duplicateNames, catalog, corruptStored, unreadable };
}
