import { isAbsolute, resolve, sep } from 'node:path';
import { UsageError } from './errors.js';
import { terminalValue } from './terminal-text.js';

/**
 * Names a user or a catalog supplies that become paths: run ids and run names (log folders),
 * dataset and DID names (files under --dest), scopes (paths in file RSEs). One check for all of
 * them, at the boundary where the name arrives, so that none can lead outside the directory it is
 * meant for, whatever its spelling.
 */
export interface PathNameRules {
  /** A relative path of several components separated by `/` (dataset and DID names), not one name. */
  nested?: boolean;
  /** What the user can do instead, appended to the error. */
  advice?: string;
}

/** Longest file name most file systems accept, in bytes. */
const maxComponentBytes = 255;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/;

/** `.` and `..`, also as Unicode normalisation or a trailing space would make them. */
function isDotName(component: string): boolean {
  const normalised = component.normalize('NFKC').trim();
  return normalised === '.' || normalised === '..';
}

/** What is wrong with `name` as a path under some directory (completing "it ..."), or undefined. */
export function pathNameProblem(name: string, rules: PathNameRules = {}): string | undefined {
  if (name === '') return 'is empty';
  if (controlCharacters.test(name)) return 'contains control characters';
  if (name.includes('\\')) return 'contains a backslash';
  if (isAbsolute(name) || /^[A-Za-z]:/.test(name)) return 'is an absolute path';
  const components = name.split('/');
  if (!rules.nested && components.length > 1) return "contains '/'";
  if (components.some(isDotName)) return "has a '.' or '..' component";
  if (components.some((component) => component === '')) return 'has an empty path component';
  if (components.some((component) => Buffer.byteLength(component) > maxComponentBytes)) return `has a component longer than ${maxComponentBytes} bytes`;
  return undefined;
}

function refusal(name: string, what: string, problem: string, rules: PathNameRules): UsageError {
  return new UsageError(`${what} '${terminalValue(name)}' cannot be used as a path: it ${problem}${rules.advice === undefined ? '' : `; ${rules.advice}`}`);
}

/** Checks a name before it is used (e.g. a flag, as it is parsed); returns it unchanged. `what` names the flag or the DID. */
export function checkPathName(name: string, what: string, rules: PathNameRules = {}): string {
  const problem = pathNameProblem(name, rules);
  if (problem !== undefined) throw refusal(name, what, problem, rules);
  return name;
}

/**
 * `root/name` as an absolute path, after checking that `name` is an acceptable name and that the
 * resolved path lies inside `root` (not `root` itself). Throws a UsageError (exit 2) naming `what`.
 */
export function confinedPath(root: string, name: string, what: string, rules: PathNameRules = {}): string {
  checkPathName(name, what, rules);
  const base = resolve(root);
  const target = resolve(base, name);
  if (!target.startsWith(base === sep ? base : base + sep)) throw refusal(name, what, `resolves outside ${base}`, rules);
  return target;
}

/** A directory or file the user names on the command line (--dir, --log-dir): any path, but a printable one. */
export function checkUserPath(path: string, what: string): string {
  if (path.trim() === '') throw new UsageError(`${what} needs a path, not an empty string`);
  if (controlCharacters.test(path)) throw new UsageError(`${what} '${terminalValue(path)}' contains control characters: choose a path without them`);
  return path;
}
