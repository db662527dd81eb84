import type { Catalog } from './catalog.js';
import type { DidRow, ReplicaRow } from './catalog-rows.js';

/** One file of a replica listing: its replicas, the requested datasets it came through, its row when it was asked for by name. */
export interface ReplicaGroup {
  file: { scope: string; name: string };
  parents: string[];
  replicas: ReplicaRow[];
  requestedFile: DidRow | undefined;
}

/**
 * Replica rows of the files behind `dids`, grouped per file in first-seen order. With
 * `updatedAfter`, only replicas whose updated_at is at or after it (cost: the new replicas).
 */
export function listReplicaRows(catalog: Catalog, dids: readonly { scope: string; name: string }[], updatedAfter: number | undefined): ReplicaGroup[] {
  const groups = new Map<string, ReplicaGroup>();
  const add = (row: ReplicaRow, parent: string | undefined): void => {
    const key = `${row.scope}:${row.name}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = { file: { scope: row.scope, name: row.name }, parents: [], replicas: [], requestedFile: undefined };
      groups.set(key, group);
    }
    if (parent !== undefined && !group.parents.includes(parent)) group.parents.push(parent);
    if (!group.replicas.some((r) => r.rse === row.rse)) group.replicas.push(row);
  };
  for (const did of dids) {
    // A DID that does not exist contributes nothing: Rucio lists the others and answers 200.
    const row = catalog.findDid(did.scope, did.name);
    if (row === undefined) continue;
    if (row.did_type === 'FILE') {
      const key = `${row.scope}:${row.name}`;
      if (!groups.has(key)) groups.set(key, { file: { scope: row.scope, name: row.name }, parents: [], replicas: [], requestedFile: row });
      for (const replica of catalog.replicasOfFile(row.scope, row.name)) {
        if (updatedAfter === undefined || replica.updated_at >= updatedAfter) add(replica, undefined);
      }
      continue;
    }
    for (const dataset of catalog.resolveDatasets(row)) {
      const parent = `${dataset.scope}:${dataset.name}`;
      for (const replica of catalog.replicasOfDataset(dataset.scope, dataset.name, updatedAfter)) add(replica, parent);
    }
  }
  return [...groups.values()];
}
