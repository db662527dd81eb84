import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError } from '../common/errors.js';

/**
 * Rucio tokens cached on disk so that separate invocations and processes (workers) share one
 * token instead of authenticating each: one file per account, VO, auth host and identity, mode
 * 0600 in a 0700 directory, replaced atomically (temp file + rename) so a reader never sees half a
 * token. A plain-text file (as the Python client writes) is accepted too, with unknown expiry.
 */
export interface CachedToken {
  token: string;
  /** Epoch ms; undefined when the server did not say. */
  expiresAt?: number | undefined;
  obtainedAt: number;
}

export function defaultTokenCacheDir(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? 'nobody';
  }
  return join(tmpdir(), user, '.wavefier_rucio');
}

export function tokenCachePath(
  dir: string,
  key: { account: string; vo: string; authHost: string; authType: string; identity: string },
): string {
  const digest = createHash('sha256')
    .update([key.authHost, key.authType, key.identity].join('\n'))
    .digest('hex')
    .slice(0, 16);
  const vo = key.vo === 'def' ? '' : `@${key.vo}`;
  return join(dir, `auth_token_for_account_${key.account}${vo}_${digest}`);
}

/**
 * mkdir leaves an existing directory's mode alone: one of ours loses group and world access; one
 * of another user's (an explicit auth_token_file_path in a shared directory) must at least not let
 * others replace our file, i.e. not be writable by them unless sticky like /tmp.
 */
async function checkDirectory(dir: string): Promise<void> {
  const info = await stat(dir);
  const uid = process.getuid?.();
  if (uid === undefined || info.uid === uid) {
    if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
    return;
  }
  if ((info.mode & 0o022) !== 0 && (info.mode & 0o1000) === 0) {
    throw new ConfigError(
      `the Rucio token cache directory ${dir} belongs to another user (uid ${info.uid}) and others may write to it: a token kept there is not safe; remove it or set auth_token_file_path elsewhere`,
    );
  }
}

export class TokenCache {
  constructor(readonly path: string) {}

  async read(): Promise<CachedToken | undefined> {
    // Only a plain file of ours: a symlink or a file another user planted would hand us their token.
    const info = await lstat(this.path).catch(() => undefined);
    const uid = process.getuid?.();
    if (info === undefined || !info.isFile() || (uid !== undefined && info.uid !== uid)) return undefined;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return undefined;
    }
    const trimmed = text.trim();
    if (trimmed === '') return undefined;
    if (trimmed.startsWith('{')) {
      try {
        const data = JSON.parse(trimmed) as Partial<CachedToken>;
        if (typeof data.token !== 'string' || data.token === '') return undefined;
        return {
          token: data.token,
          expiresAt: typeof data.expiresAt === 'number' ? data.expiresAt : undefined,
          obtainedAt: typeof data.obtainedAt === 'number' ? data.obtainedAt : 0,
        };
      } catch {
        return undefined;
      }
    }
    return { token: trimmed, obtainedAt: info.mtimeMs };
  }

  async write(entry: CachedToken): Promise<void> {
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await checkDirectory(dir);
    const temp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temp, JSON.stringify(entry), { mode: 0o600, flag: 'wx' });
    try {
      await rename(temp, this.path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  async remove(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
  }
}
