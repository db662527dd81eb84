import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../common/errors.js';
import type { RucioConfig } from './config.js';
import type { ClientCertificate } from './tls.js';

/**
 * What wavefier presents to grid storage (WebDAV over TLS): the X.509 certificate or RFC 3820
 * proxy that the Rucio connection uses, as the TLS client certificate, and a WLCG bearer token
 * found by the WLCG Bearer Token Discovery rules, as `Authorization: Bearer`. Each credential
 * knows where it came from, so that a refusal can say which one storage refused.
 */

/** A client certificate for storage and where it was found. */
export interface StorageCertificate extends ClientCertificate {
  /** `proxy` for an X.509 proxy file (certificate, key and chain in one file). */
  kind: 'certificate' | 'proxy';
  /** Where it came from, e.g. "env X509_USER_PROXY", "/tmp/x509up_u1000 (default proxy location)". */
  source: string;
}

/** When a certificate file's leaf certificate is valid, read from the file. */
export interface CertificateValidity {
  subject: string;
  validFrom: Date;
  validTo: Date;
}

/** Settings the discovery reads from the Rucio configuration. */
export type CredentialSettings = Pick<
  RucioConfig,
  'authType' | 'clientCert' | 'clientKey' | 'clientProxy' | 'token' | 'tokenFile' | 'sources'
>;

const tokenRereadMs = 30_000;

/**
 * A bearer token from one place (a variable or a file), re-read now and then so that a token an
 * agent (oidc-agent, htgettoken) renews in its file is picked up without a restart.
 */
export class BearerToken {
  private value: string | undefined;
  private readAt = 0;

  constructor(
    /** Where it comes from, e.g. "env BEARER_TOKEN_FILE /run/user/1000/bt_u1000". */
    readonly source: string,
    private readonly read: () => Promise<string | undefined>,
  ) {}

  /** The token to send now. */
  async token(): Promise<string> {
    if (this.value === undefined || Date.now() - this.readAt > tokenRereadMs) await this.reload();
    if (this.value === undefined) {
      throw new ConfigError(`the bearer token (${this.source}) is empty or no longer readable; write a fresh token there`);
    }
    return this.value;
  }

  /** After storage refused `rejected`: a different token if the source holds one now, else undefined. */
  async replacing(rejected: string): Promise<string | undefined> {
    await this.reload();
    return this.value !== undefined && this.value !== rejected ? this.value : undefined;
  }

  private async reload(): Promise<void> {
    const next = await this.read();
    this.readAt = Date.now();
    if (next !== undefined) this.value = next;
  }
}

/**
 * The storage credentials of one client, found once (lazily, on the first storage operation that
 * needs them): `certificate()` and `bearer()` resolve to undefined when there is none.
 */
export class StorageCredentials {
  private certificateFound: Promise<StorageCertificate | undefined> | undefined;
  private bearerFound: Promise<BearerToken | undefined> | undefined;

  constructor(
    private readonly settings: CredentialSettings,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  certificate(): Promise<StorageCertificate | undefined> {
    this.certificateFound ??= discoverCertificate(this.settings, this.env);
    return this.certificateFound;
  }

  bearer(): Promise<BearerToken | undefined> {
    this.bearerFound ??= discoverBearer(this.settings, this.env);
    return this.bearerFound;
  }
}

function uid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * The certificate for storage: the one the Rucio connection authenticates with (x509: client_cert
 * and client_key; x509_proxy: the proxy); for other auth types the grid defaults, as Rucio's
 * webdav protocol and gfal look for them: the proxy of X509_USER_PROXY (or rucio.cfg), else
 * /tmp/x509up_u<uid>, else client_cert/client_key, else X509_USER_CERT/X509_USER_KEY.
 */
async function discoverCertificate(settings: CredentialSettings, env: NodeJS.ProcessEnv): Promise<StorageCertificate | undefined> {
  const from = (key: string): string => settings.sources[key] ?? 'settings';
  const userCertificate =
    settings.clientCert !== undefined && settings.clientKey !== undefined
      ? { certFile: settings.clientCert, keyFile: settings.clientKey, kind: 'certificate' as const, source: from('clientCert') }
      : undefined;
  const configuredProxy =
    settings.clientProxy === undefined
      ? undefined
      : { certFile: settings.clientProxy, keyFile: settings.clientProxy, kind: 'proxy' as const, source: from('clientProxy') };
  if (settings.authType === 'x509') return userCertificate;
  if (settings.authType === 'x509_proxy') return configuredProxy;
  if (configuredProxy !== undefined) return configuredProxy;
  const id = uid();
  if (id !== undefined) {
    const defaultProxy = `/tmp/x509up_u${id}`;
    if (await isFile(defaultProxy)) return { certFile: defaultProxy, keyFile: defaultProxy, kind: 'proxy', source: 'the default proxy location' };
  }
  if (userCertificate !== undefined) return userCertificate;
  const cert = env.X509_USER_CERT;
  const key = env.X509_USER_KEY;
  if (cert !== undefined && cert !== '' && key !== undefined && key !== '') {
    return { certFile: cert, keyFile: key, kind: 'certificate', source: 'env X509_USER_CERT/X509_USER_KEY' };
  }
  return undefined;
}

async function readTokenFile(path: string): Promise<string | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}

/**
 * WLCG Bearer Token Discovery: BEARER_TOKEN, then the file BEARER_TOKEN_FILE names, then
 * $XDG_RUNTIME_DIR/bt_u<uid>, then /tmp/bt_u<uid>. A token file given by flag comes first.
 */
async function discoverBearer(settings: CredentialSettings, env: NodeJS.ProcessEnv): Promise<BearerToken | undefined> {
  const fileSource = settings.sources.tokenFile ?? 'settings';
  const explicitFile = settings.tokenFile !== undefined && fileSource.startsWith('flag') ? settings.tokenFile : undefined;
  if (explicitFile !== undefined) return fileToken(`${explicitFile} (${fileSource})`, explicitFile, true);
  if (settings.token !== undefined) {
    const value = settings.token.trim();
    return new BearerToken(settings.sources.token ?? 'settings', () => Promise.resolve(value));
  }
  if (settings.tokenFile !== undefined) return fileToken(`${settings.tokenFile} (${fileSource})`, settings.tokenFile, true);
  const id = uid();
  if (id === undefined) return undefined;
  const candidates = [
    env.XDG_RUNTIME_DIR === undefined || env.XDG_RUNTIME_DIR === '' ? undefined : join(env.XDG_RUNTIME_DIR, `bt_u${id}`),
    `/tmp/bt_u${id}`,
  ];
  for (const file of candidates) {
    if (file !== undefined && (await readTokenFile(file)) !== undefined) return fileToken(`${file} (WLCG token discovery)`, file, false);
  }
  return undefined;
}

async function fileToken(source: string, file: string, mustExist: boolean): Promise<BearerToken | undefined> {
  const first = await readTokenFile(file);
  if (first === undefined) {
    if (!mustExist) return undefined;
    throw new ConfigError(`the bearer token file ${source} is missing or empty; write the token there or unset it`);
  }
  return new BearerToken(source, () => readTokenFile(file));
}

/** The leaf (first) certificate of a PEM file: a user certificate, or the proxy of a proxy file. */
export async function certificateValidity(file: string, what: string): Promise<CertificateValidity> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; check the path and its permissions`);
  }
  const block = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (block === undefined) throw new ConfigError(`the ${what} ${file} holds no PEM certificate`);
  try {
    const certificate = new X509Certificate(block);
    return { subject: certificate.subject.replaceAll('\n', ', '), validFrom: new Date(certificate.validFrom), validTo: new Date(certificate.validTo) };
  } catch (error) {
    throw new ConfigError(`the ${what} ${file} is not a valid certificate: ${(error as Error).message}`);
  }
}

/** Throws a ConfigError naming the file, its source and the cure when the certificate is not valid now. */
export async function checkCertificateValid(certificate: StorageCertificate, now = Date.now()): Promise<CertificateValidity> {
  const what = certificate.kind === 'proxy' ? 'X.509 proxy' : 'X.509 certificate';
  const validity = await certificateValidity(certificate.certFile, what);
  const cure =
    certificate.kind === 'proxy'
      ? 'renew it (voms-proxy-init or grid-proxy-init) and retry'
      : 'renew the certificate, or use a proxy (X509_USER_PROXY)';
  if (validity.validTo.getTime() <= now) {
    throw new ConfigError(`the ${what} ${certificate.certFile} (${certificate.source}) expired at ${validity.validTo.toISOString()}; ${cure}`);
  }
  if (validity.validFrom.getTime() > now) {
    throw new ConfigError(
      `the ${what} ${certificate.certFile} (${certificate.source}) is not valid before ${validity.validFrom.toISOString()}; check this machine's clock`,
    );
  }
  return validity;
}

/** One line naming what is presented to storage, for doctor and error messages (never the token itself). */
export function describePresented(certificate: StorageCertificate | undefined, bearer: BearerToken | undefined): string {
  const parts: string[] = [];
  if (certificate !== undefined) {
    parts.push(`${certificate.kind === 'proxy' ? 'X.509 proxy' : 'X.509 certificate'} ${certificate.certFile} (${certificate.source})`);
  }
  if (bearer !== undefined) parts.push(`bearer token ${bearer.source}`);
  return parts.length === 0 ? 'no credential (no certificate or proxy, no bearer token found)' : parts.join(' and ');
}
