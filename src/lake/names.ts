import { createHash } from 'node:crypto';

/** Rucio's generic schema patterns (lib/rucio/common/schema/generic.py). */
export const scopePattern = /^[a-zA-Z_\-.0-9]+$/;
export const namePattern = /^[/A-Za-z0-9][/A-Za-z0-9.\-_]*$/;
export const adler32Pattern = /^[a-fA-F\d]{8}$/;
export const md5Pattern = /^[a-fA-F\d]{32}$/;
export const guidPattern = /^(\{){0,1}[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}(\}){0,1}$/;

export function isValidScope(scope: string): boolean {
  return scope.length <= 25 && scopePattern.test(scope);
}

export function isValidName(name: string): boolean {
  return name.length <= 250 && namePattern.test(name);
}

/**
 * Rucio's deterministic `hash` lfn2pfn algorithm (rse/translation.py): the md5 of `scope:name`
 * gives two directory levels; scopes starting with `user` or `group` have their dots turned into
 * slashes.
 */
export function lfn2pfnHash(scope: string, name: string): string {
  const hash = createHash('md5').update(`${scope}:${name}`).digest('hex');
  const scopePath = scope.startsWith('user') || scope.startsWith('group') ? scope.replaceAll('.', '/') : scope;
  return `${scopePath}/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${name}`;
}

/** Rucio's `identity` lfn2pfn algorithm. */
export function lfn2pfnIdentity(scope: string, name: string): string {
  const scopePath = scope.startsWith('user') || scope.startsWith('group') ? scope.replaceAll('.', '/') : scope;
  return `${scopePath}/${name}`;
}

/** Forces a protocol prefix to start and end with `/`, as rse/protocols/protocol.py does. */
export function normalisePrefix(prefix: string): string {
  let out = prefix;
  if (!out.startsWith('/')) out = `/${out}`;
  if (!out.endsWith('/')) out = `${out}/`;
  return out;
}
