import { randomBytes } from 'node:crypto';
import type { RucioClient } from './client.js';
import { isLocalLfn2pfn, lfn2pfn } from './lfn2pfn.js';
import { replicaFromJson } from './replicas.js';
import { protocolsFor, type Operation } from './rse.js';

/**
 * Pays the first-request costs of storage on `rse` before the first file: the RSE's description
 * (cached by the client), its store (for reading, found from a PFN as a download's fetch finds
 * it), the keep-alive connection and the request signing, by asking for an object that does not
 * exist (a HEAD on S3 and HTTP storage, a stat on a file RSE). It reads and writes nothing, and
 * sends no GET or PUT that a storage's fault rules for reads or writes would count. Only RSEs whose
 * PFNs this client computes itself are warmed (no catalog call per probe). Resolves to whether the
 * probe was answered; a failure is not an error here: the first real request meets it again and
 * reports it.
 */
export async function warmUpStorage(client: RucioClient, rseName: string, scope: string, operation: Extract<Operation, 'read' | 'write'>): Promise<boolean> {
  try {
    const rse = await client.rse(rseName);
    const protocol = protocolsFor(rse, operation)[0];
    if (protocol === undefined || !rse.deterministic || !isLocalLfn2pfn(rse.lfn2pfnAlgorithm)) return false;
    const pfn = lfn2pfn(scope, `wavefier-warm-up-probe-${randomBytes(8).toString('hex')}`, protocol, rse.lfn2pfnAlgorithm);
    const store = operation === 'read' ? await client.storage.forPfn(rse.name, pfn, 'read') : await client.storage.forProtocol(rse, protocol);
    await store.stat(pfn);
    return true;
  } catch {
    return false;
  }
}

const warmUpPfn = 'https://storage.invalid:443/warm-up/wavefier/00/00/warm-up.hdf5';

/** A `POST /replicas/list` line with every field Rucio 1.31 lists (transcript 06.2), for warmUpReplicaParsing. */
export const warmUpReplicaLine = {
  scope: 'wavefier',
  name: 'warm-up.hdf5',
  bytes: 1,
  md5: '93b885adfe0da089cdf634904fd59f71',
  adler32: '00010001',
  pfns: { [warmUpPfn]: { rse_id: '0'.repeat(32), rse: 'WARM_UP', type: 'DISK', volatile: false, domain: 'wan', priority: 1, client_extract: false } },
  rses: { WARM_UP: [warmUpPfn] },
  states: { WARM_UP: 'AVAILABLE' },
};

/**
 * Compiles the validation of `POST /replicas/list` answers before the first file is listed: zod
 * builds each object schema's parser on its first use, and the first file a download saw took 1-2 ms
 * longer to parse than the next (0.06 ms). A line of the shape Rucio lists is parsed here; nothing
 * is sent. Returns whether it parsed.
 */
export function warmUpReplicaParsing(): boolean {
  try {
    return replicaFromJson(structuredClone(warmUpReplicaLine)).pfns.length === 1;
  } catch {
    return false;
  }
}
