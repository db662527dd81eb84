import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Reads a secret kept in the lake dir, or creates it (mode 0600) on first start. */
export async function readOrCreateSecret(path: string, create: () => string = () => randomBytes(18).toString('base64url')): Promise<string> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    if (text !== '') return text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const value = create();
  await writeFile(path, `${value}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return value;
}

export interface ClientConfig {
  rucioHost: string;
  authHost: string;
  account: string;
  username: string;
  password: string;
}

/** `<dir>/etc/rucio.cfg`: a [client] section any Rucio client can use with RUCIO_HOME=<dir>. */
export async function writeRucioCfg(dir: string, config: ClientConfig): Promise<string> {
  const etc = join(dir, 'etc');
  await mkdir(etc, { recursive: true });
  const path = join(etc, 'rucio.cfg');
  const text =
    '# Written by `wavefier lake serve` (the embedded data lake); rewritten at every start.\n' +
    '[client]\n' +
    `rucio_host = ${config.rucioHost}\n` +
    `auth_host = ${config.authHost}\n` +
    'auth_type = userpass\n' +
    `username = ${config.username}\n` +
    `password = ${config.password}\n` +
    `account = ${config.account}\n` +
    'request_retries = 3\n' +
    '\n[policy]\nlfn2pfn_algorithm_default = hash\n';
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
  return path;
}

export interface RseCredentials {
  access_key: string;
  secret_key: string;
  is_secure: boolean;
  signature_version: 's3v4';
  region: string;
  path_style: boolean;
  endpoint: string;
}

/** `<dir>/etc/rse-accounts.cfg`: JSON keyed by RSE name with the S3 credentials (mode 0600). */
export async function writeRseAccounts(dir: string, credentials: Record<string, RseCredentials>): Promise<string> {
  const etc = join(dir, 'etc');
  await mkdir(etc, { recursive: true });
  const path = join(etc, 'rse-accounts.cfg');
  await writeFile(path, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return path;
}
