import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../common/errors.js';
import { createLakeCa, createServerCertificate, subjectHashName, type PemPair } from './tls-certificate.js';

/**
 * Files of the lake that hold a secret (passwords, the admin token, S3 keys, rucio.cfg) are
 * created with mode 0600 from their first byte, in a state directory of mode 0700: a temporary
 * file opened with that mode, then renamed (or linked) into place. A chmod after writing would
 * leave a window in which another local user could open the file.
 */
const secretMode = 0o600;
const directoryMode = 0o700;

/**
 * Creates the lake's state directory (mode 0700) or checks an existing one: it must be ours, and
 * loses any group or world access it has (a lake directory made by an older version was 0755).
 */
export async function prepareStateDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: directoryMode });
  const info = await stat(dir);
  if (!info.isDirectory()) throw new ConfigError(`the lake directory ${dir} is not a directory: choose another --dir`);
  const uid = process.getuid?.();
  // root may run a lake in a directory it made for someone else (a container's volume).
  if (uid !== undefined && uid !== 0 && info.uid !== uid) {
    throw new ConfigError(`the lake directory ${dir} belongs to another user (uid ${info.uid}): its secrets would not be private; choose another --dir`);
  }
  if ((info.mode & 0o077) !== 0 && info.uid === uid) await chmod(dir, directoryMode);
}

const temporaryPath = (path: string): string => `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;

/** Writes `text` to `path` as a new 0600 file that replaces any previous one atomically. */
export async function writeSecretFile(path: string, text: string): Promise<void> {
  const temp = temporaryPath(path);
  await writeFile(temp, text, { mode: secretMode, flag: 'wx' });
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** A secret file left group- or world-readable by an older version loses that access. */
async function keepPrivate(path: string): Promise<void> {
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) await chmod(path, secretMode);
}

async function readSecret(path: string): Promise<string | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    if (text === '') return undefined;
    await keepPrivate(path);
    return text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Reads a secret kept in the lake dir, or creates it on first start. Two lakes starting at once on
 * one directory agree: the file is linked into place only if absent, and the loser reads the winner's.
 */
export async function readOrCreateSecret(path: string, create: () => string = () => randomBytes(18).toString('base64url')): Promise<string> {
  const existing = await readSecret(path);
  if (existing !== undefined) return existing;
  const value = create();
  const temp = temporaryPath(path);
  await writeFile(temp, `${value}\n`, { mode: secretMode, flag: 'wx' });
  try {
    await link(temp, path);
    return value;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Present but empty (an interrupted older version): replaced; otherwise another start won.
    const winner = await readSecret(path);
    if (winner !== undefined) return winner;
    await rename(temp, path);
    return value;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

export interface ClientConfig {
  rucioHost: string;
  authHost: string;
  account: string;
  username: string;
  password: string;
  /** The CA of the lake's TLS storage, which Rucio clients verify storage against. */
  caCert: string;
}

async function etcDirectory(dir: string): Promise<string> {
  const etc = join(dir, 'etc');
  await mkdir(etc, { recursive: true, mode: directoryMode });
  return etc;
}

/** `<dir>/etc/rucio.cfg`: a [client] section any Rucio client can use with RUCIO_HOME=<dir>. */
export async function writeRucioCfg(dir: string, config: ClientConfig): Promise<string> {
  const path = join(await etcDirectory(dir), 'rucio.cfg');
  const text =
    '# Written by `wavefier lake serve` (the embedded data lake); rewritten at every start.\n' +
    '[client]\n' +
    `rucio_host = ${config.rucioHost}\n` +
    `auth_host = ${config.authHost}\n` +
    'auth_type = userpass\n' +
    `username = ${config.username}\n` +
    `password = ${config.password}\n` +
    `account = ${config.account}\n` +
    `ca_cert = ${config.caCert}\n` +
    'request_retries = 3\n' +
    '\n[policy]\nlfn2pfn_algorithm_default = hash\n';
  await writeSecretFile(path, text);
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
  const path = join(await etcDirectory(dir), 'rse-accounts.cfg');
  await writeSecretFile(path, `${JSON.stringify(credentials, null, 2)}\n`);
  return path;
}

/** The lake's storage TLS: its server certificate, and where clients find the CA that signed it. */
export interface StorageTlsFiles {
  server: PemPair;
  /** The CA certificate (PEM), for rucio.cfg `ca_cert`, curl `--cacert`, undici `ca`. */
  caCert: string;
  /** A directory holding the CA under its OpenSSL hash name, for X509_CERT_DIR (gfal2/davix, the grid's way). */
  caDir: string;
}

/**
 * The CA of a lake directory is made on first start and kept (`tls/ca-key.pem`, private), so
 * clients that trust it keep doing so across restarts; the server certificate is made at every
 * start for the address the lake listens on. Two lakes starting on one directory agree on the CA
 * (readOrCreateSecret).
 */
export async function prepareStorageTls(dir: string, host: string): Promise<StorageTlsFiles> {
  const tls = join(dir, 'tls');
  await mkdir(tls, { recursive: true, mode: directoryMode });
  const bundle = await readOrCreateSecret(join(tls, 'ca-key.pem'), () => {
    const ca = createLakeCa(dir);
    return `${ca.key.trim()}\n${ca.cert.trim()}`;
  });
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(bundle)?.[0];
  const key = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(bundle)?.[0];
  if (cert === undefined || key === undefined) {
    throw new ConfigError(`${join(tls, 'ca-key.pem')} holds no CA key and certificate: remove it (and restart) for a new CA`);
  }
  const ca: PemPair = { cert: `${cert}\n`, key: `${key}\n` };
  const caCert = join(tls, 'ca.pem');
  const caDir = join(tls, 'certificates');
  await mkdir(caDir, { recursive: true, mode: directoryMode });
  await writeSecretFile(caCert, ca.cert);
  await writeSecretFile(join(caDir, subjectHashName(ca.cert)), ca.cert);
  const hosts = [...new Set([host, '127.0.0.1', 'localhost'])].filter((name) => name !== '0.0.0.0' && name !== '::');
  return { server: createServerCertificate(ca, hosts), caCert, caDir };
}
