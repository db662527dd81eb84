import { randomBytes } from 'node:crypto';
import type { RucioClient } from './client.js';
import { isLocalLfn2pfn, lfn2pfn } from './lfn2pfn.js';
import { ObjectNotFoundError } from './object-store.js';
import { protocolsFor, type Operation } from './rse.js';

/**
 * Pays the first-request costs of storage on `rse` before the first file: the RSE's description
 * (cached by the client), its store, the keep-alive connection and the request signing, by asking
 * for an object that does not exist. For reading, the probe takes the path of a download's fetch:
 * the store found from a PFN, then a GET, whose 404 answer is read like an object's bytes; for
 * writing, a stat (a HEAD on S3 and HTTP storage, a stat on a file RSE). It reads and writes
 * nothing. Only RSEs whose PFNs this client computes itself are warmed (no catalog call per
 * probe). Resolves to whether the probe was answered as expected; a failure is not an error here:
 * the first real request meets it again and reports it.
 */
export async function warmUpStorage(client: RucioClient, rseName: string, scope: string, operation: Extract<Operation, 'read' | 'write'>): Promise<boolean> {
  try {
    const rse = await client.rse(rseName);
    const protocol = protocolsFor(rse, operation)[0];
    if (protocol === undefined || !rse.deterministic || !isLocalLfn2pfn(rse.lfn2pfnAlgorithm)) return false;
    const pfn = lfn2pfn(scope, `wavefier-warm-up-probe-${randomBytes(8).toString('hex')}`, protocol, rse.lfn2pfnAlgorithm);
    if (operation === 'write') {
      const store = await client.storage.forProtocol(rse, protocol);
      await store.stat(pfn);
      return true;
    }
    const store = await client.storage.forPfn(rse.name, pfn, 'read');
    try {
      await store.get(pfn);
    } catch (error) {
      return error instanceof ObjectNotFoundError;
    }
    // An object under a random name of ours: nothing this probe may rely on, but the path has run.
    return true;
  } catch {
    return false;
  }
}
