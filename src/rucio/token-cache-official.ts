import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../common/errors.js';

/**
 * The token cache of the official Rucio client (1.31, rucio.client.baseclient), read and renewed
 * the way that client does, so that `--auth-type oidc` uses the token a user got with
 * `rucio -S oidc ...` (or any other login: the file holds whatever token that client last got).
 *
 * Layout: `<python temp dir>/<user>/.rucio_<user>[@<vo>]/auth_token_for_account_<account>`, the
 * VO suffix only for a VO other than `def`; or the file `[client] auth_token_file_path` names.
 * Beside it, `auth_token_exp_for_account_<account>` holds the expiry as epoch seconds, written
 * only by an OIDC login with `auth_oidc_refresh_active` (else absent, or the word None).
 */
export interface OfficialTokenFiles {
  tokenFile: string;
  expiryFile: string;
}

/** Python's `getpass.getuser()`: the login variables first, then the password database. */
export function pythonUser(env: NodeJS.ProcessEnv): string {
  for (const name of ['LOGNAME', 'USER', 'LNAME', 'USERNAME']) {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
  }
  return userInfo().username;
}

/** Python's `tempfile.gettempdir()` (TMPDIR, TEMP, TMP, then /tmp), made absolute as the client does. */
export function pythonTempDir(env: NodeJS.ProcessEnv): string {
  for (const name of ['TMPDIR', 'TEMP', 'TMP']) {
    const value = env[name];
    if (value !== undefined && value !== '') return resolve(value);
  }
  return '/tmp';
}

export function officialTokenFiles(input: {
  account: string;
  vo: string;
  /** rucio.cfg `[client] auth_token_file_path`: the client then uses that file whatever the account or VO. */
  tokenFilePath?: string | undefined;
  env: NodeJS.ProcessEnv;
}): OfficialTokenFiles {
  const suffix = `for_account_${input.account}`;
  let dir: string;
  let tokenFile: string;
  if (input.tokenFilePath !== undefined) {
    tokenFile = input.tokenFilePath;
    dir = dirname(tokenFile);
  } else {
    const user = pythonUser(input.env);
    dir = join(pythonTempDir(input.env), user, `.rucio_${user}${input.vo === 'def' ? '' : `@${input.vo}`}`);
    tokenFile = join(dir, `auth_token_${suffix}`);
  }
  return { tokenFile, expiryFile: join(dir, `auth_token_exp_${suffix}`) };
}

export interface OfficialToken {
  token: string;
  /** Epoch ms, from the expiry file (when it belongs to this token) or the token's own `exp` claim. */
  expiresAt: number | undefined;
  /** Where the expiry came from, for messages. */
  expirySource: 'expiry file' | 'token' | undefined;
  /** Epoch ms the expiry file gave (undefined: absent, None, stale or unreadable): the client's refresh trigger. */
  expiryFileEpochMs: number | undefined;
  /** When the token file was last written (epoch ms). */
  writtenAt: number;
}

/** Characters a token may have to go into an HTTP header; anything else means the file is not a token. */
const tokenPattern = /^[\x21-\x7e]+$/;

/** Expiry of a JWT from its `exp` claim, without verifying it (the server does that). */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

async function ownFile(path: string): Promise<{ mtimeMs: number } | undefined> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) return undefined;
  const uid = process.getuid?.();
  // A symlink or a file another user planted would hand us their token (or make us send ours to them).
  if (!info.isFile() || (uid !== undefined && info.uid !== uid)) {
    throw new ConfigError(
      `${path} (the official Rucio client's token cache) is ${info.isFile() ? `owned by uid ${info.uid}, not by this user` : 'not a plain file'}; ` +
        'a token there is not safe to use: remove it and log in again with the official client',
    );
  }
  return info;
}

/**
 * The cached token, or undefined when the client has none for this account and VO. A file that
 * cannot be a token (empty, binary, several lines of text) is an error naming the file.
 */
export async function readOfficialToken(files: OfficialTokenFiles): Promise<OfficialToken | undefined> {
  const tokenInfo = await ownFile(files.tokenFile);
  if (tokenInfo === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(files.tokenFile, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read ${files.tokenFile} (the official Rucio client's token cache): ${(error as Error).message}`, { cause: error });
  }
  // The client reads the first line; it writes the token without a newline.
  const token = (text.split('\n')[0] ?? '').trim();
  if (!tokenPattern.test(token)) {
    throw new ConfigError(
      `${files.tokenFile} (the official Rucio client's token cache) does not hold a token (${token === '' ? 'it is empty' : 'it has characters no token has'}); ` +
        'remove it and log in again with the official client (e.g. `rucio -S oidc whoami`)',
    );
  }
  const expiryFileEpochMs = await readExpiryFile(files.expiryFile, tokenInfo.mtimeMs);
  const fromJwt = jwtExpiry(token);
  const expiresAt = expiryFileEpochMs ?? fromJwt;
  return {
    token,
    expiresAt,
    expirySource: expiryFileEpochMs !== undefined ? 'expiry file' : fromJwt !== undefined ? 'token' : undefined,
    expiryFileEpochMs,
    writtenAt: tokenInfo.mtimeMs,
  };
}

/**
 * The expiry file's epoch, if it describes the token beside it: the client rewrites it only for
 * OIDC logins with refresh on, so after a later login of another kind it is older than the token
 * and says nothing about it.
 */
async function readExpiryFile(path: string, tokenWrittenAt: number): Promise<number | undefined> {
  const info = await ownFile(path).catch(() => undefined);
  if (info === undefined || info.mtimeMs + 1_000 < tokenWrittenAt) return undefined;
  const text = await readFile(path, 'utf8').catch(() => '');
  const line = (text.split('\n')[0] ?? '').trim();
  return /^\d+$/.test(line) ? Number(line) * 1000 : undefined;
}

async function replaceFile(path: string, content: string): Promise<void> {
  const temp = join(dirname(path), `.wavefier.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(temp, content, { mode: 0o600, flag: 'wx' });
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** Stores a refreshed token as the client does: token, then expiry (epoch seconds), each replaced atomically. */
export async function writeOfficialToken(files: OfficialTokenFiles, token: string, expiresAtEpochSeconds: number): Promise<void> {
  await mkdir(dirname(files.tokenFile), { recursive: true, mode: 0o700 });
  await replaceFile(files.tokenFile, token);
  await replaceFile(files.expiryFile, String(expiresAtEpochSeconds));
}

/**
 * Whether the client would ask the auth server for a refreshed token now (`auth_oidc_refresh_active`):
 * when it knows no expiry, or within `auth_oidc_refresh_before_exp` minutes before it; never once expired.
 */
export function officialRefreshDue(entry: OfficialToken, beforeExpiryMinutes: number, now = Date.now()): boolean {
  const expiry = entry.expiryFileEpochMs;
  if (expiry === undefined) return true;
  return now > expiry - beforeExpiryMinutes * 60_000 && now < expiry;
}
