import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { didOf } from '../common/log-records.js';

/** A file the coordinator hands out: its DID and where it would be written (undefined with --keep none). */
export interface LocalFile {
  scope: string;
  name: string;
  relativePath: string | undefined;
}

/**
 * Which DID each file of a download belongs to, so that two DIDs never share one: a dataset may hold
 * files of several scopes with the same name, which would be written to one local path (the second
 * over the first) and which the download's bookkeeping (by name) cannot tell apart; on a file system
 * that ignores case (macOS, Windows by default) names that differ only in case are one file too.
 * Checked before a file's job is queued, so the second DID is refused, named with the first, and
 * nothing is overwritten.
 */
export class LocalPaths {
  /**
   * By name, the scope of the DID that holds it: a short string JSON parsing already shares, where
   * the DID was a string of its own per file (~64 bytes a chunk over a whole run).
   */
  private readonly byName = new Map<string, string>();
  /** By local path (folded on a case-insensitive destination): the DID that holds it. */
  private readonly byPath = new Map<string, string>();

  constructor(private readonly foldCase: boolean) {}

  /**
   * Claims the name and local path of `file` for its DID; returns undefined when they are its own,
   * else why not, naming the DID that holds them.
   */
  claim(file: LocalFile, where: string): string | undefined {
    const did = didOf(file.scope, file.name);
    const scopeOfName = this.byName.get(file.name);
    if (scopeOfName !== undefined && scopeOfName !== file.scope) {
      return `${did} has the same name as ${didOf(scopeOfName, file.name)}, already taken by this download: one dataset cannot be downloaded with two files of one name; ${did} is not downloaded`;
    }
    const key = file.relativePath === undefined ? undefined : this.foldCase ? file.relativePath.toLowerCase() : file.relativePath;
    const byPath = key === undefined ? undefined : this.byPath.get(key);
    if (byPath !== undefined && byPath !== did) {
      return `${did} would be written to ${where}, already the file of ${byPath}${this.foldCase ? ' (the destination ignores case)' : ''}: not writing one over the other; ${did} is not downloaded`;
    }
    this.byName.set(file.name, file.scope);
    if (key !== undefined) this.byPath.set(key, did);
    return undefined;
  }
}

/**
 * Whether files in `dir` are found whatever the case of their name (created if missing): probed with
 * a file of its own, removed again. A destination that cannot be probed counts as case-sensitive.
 */
export function ignoresCase(dir: string): boolean {
  const probe = `.wavefier-case-probe-${randomBytes(4).toString('hex')}`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, probe), '');
    return existsSync(join(dir, probe.toUpperCase()));
  } catch {
    return false;
  } finally {
    rmSync(join(dir, probe), { force: true });
  }
}
