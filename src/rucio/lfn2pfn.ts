import { createHash } from 'node:crypto';
import type { RseProtocol } from './rse.js';

/**
 * Rucio's deterministic path for a DID (rucio/rse/translation.py): `hash` puts the file under
 * two directory levels from md5("scope:name"); `identity` under the scope only. Scopes starting
 * with `user` or `group` have their dots turned into directories (`user.root` → `user/root`).
 */
export function lfn2path(scope: string, name: string, algorithm = 'hash'): string {
  const dir = scope.startsWith('user') || scope.startsWith('group') ? scope.replaceAll('.', '/') : scope;
  if (algorithm === 'identity') return `${dir}/${name}`;
  if (algorithm !== 'hash') throw new RangeError(`lfn2pfn algorithm '${algorithm}' is not computed locally`);
  const hash = createHash('md5').update(`${scope}:${name}`).digest('hex');
  return `${dir}/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${name}`;
}

/** Algorithms this client computes itself; any other needs `GET /rses/{rse}/lfns2pfns`. */
export function isLocalLfn2pfn(algorithm: string): boolean {
  return algorithm === 'hash' || algorithm === 'identity';
}

/** The protocol's prefix normalised as protocol.py does: leading and trailing slash. */
export function normalisedPrefix(prefix: string): string {
  let value = prefix;
  if (!value.startsWith('/')) value = `/${value}`;
  if (!value.endsWith('/')) value = `${value}/`;
  return value;
}

/** The PFN string exactly as Rucio builds it: scheme://host:port/prefix/path, the port left out only when 0. */
export function pfnFor(protocol: Pick<RseProtocol, 'scheme' | 'hostname' | 'port' | 'prefix'>, path: string): string {
  const port = protocol.port === 0 ? '' : `:${protocol.port}`;
  return `${protocol.scheme}://${protocol.hostname}${port}${normalisedPrefix(protocol.prefix)}${path}`;
}

/** The PFN of a DID on a deterministic RSE under `protocol` (default algorithm `hash`). */
export function lfn2pfn(
  scope: string,
  name: string,
  protocol: Pick<RseProtocol, 'scheme' | 'hostname' | 'port' | 'prefix'>,
  algorithm = 'hash',
): string {
  return pfnFor(protocol, lfn2path(scope, name, algorithm));
}
