import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, type Dispatcher } from 'undici';
import { ConfigError } from '../common/errors.js';
import { definedProps } from '../common/defined.js';
import type { RucioConfig } from './config.js';

/**
 * TLS material and the connection pools (undici dispatchers) built from it, for the Rucio servers
 * and for storage. One `TlsConnections` per client owns every pool it hands out and closes them.
 */

export interface TlsOptions {
  ca?: string[];
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
}

/** A client certificate and its key as files (the key may be in the same file, as in an X.509 proxy). */
export interface ClientCertificate {
  certFile: string;
  keyFile: string;
}

/** What the TLS set-up reads from the configuration. */
export type TlsSettings = Pick<RucioConfig, 'caCert' | 'insecure'>;

export function createAgent(tls: TlsOptions, connections = 32): Agent {
  return new Agent({
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    connections,
    pipelining: 1,
    connect: {
      timeout: 10_000,
      ...definedProps({ ca: tls.ca, cert: tls.cert, key: tls.key }),
      rejectUnauthorized: tls.rejectUnauthorized ?? true,
    },
  });
}

/** The certificate an auth type presents to the auth server, or undefined for userpass and tokens. */
export function loginCertificate(config: Pick<RucioConfig, 'authType' | 'clientCert' | 'clientKey' | 'clientProxy'>): ClientCertificate | undefined {
  if (config.authType === 'x509' && config.clientCert !== undefined && config.clientKey !== undefined) {
    return { certFile: config.clientCert, keyFile: config.clientKey };
  }
  if (config.authType === 'x509_proxy' && config.clientProxy !== undefined) {
    return { certFile: config.clientProxy, keyFile: config.clientProxy };
  }
  return undefined;
}

export class TlsConnections {
  /** Verifies servers against the system CAs; used until the configured CA is known to be needed. */
  readonly agent: Agent;
  private readonly owned = new Set<Dispatcher>();
  private material: Promise<TlsOptions> | undefined;
  private verifying: Promise<Dispatcher> | undefined;
  private login: Dispatcher | undefined;
  private closing: Promise<unknown[]> | undefined;

  constructor(
    private readonly settings: TlsSettings,
    connections = 32,
  ) {
    this.agent = createAgent({}, connections);
    this.owned.add(this.agent);
  }

  /** The CA bundle/directory and the verification switch, read once. */
  tls(): Promise<TlsOptions> {
    this.material ??= loadTls(this.settings);
    return this.material;
  }

  /** The pool for API calls and storage URLs: with the custom CA, or not verifying when insecure. */
  dispatcher(): Promise<Dispatcher> {
    this.verifying ??= this.tls().then((tls) => {
      if (tls.ca === undefined && tls.rejectUnauthorized !== false) return this.agent;
      return this.own(createAgent({ ...definedProps({ ca: tls.ca }), rejectUnauthorized: tls.rejectUnauthorized ?? true }));
    });
    return this.verifying;
  }

  /**
   * A new pool presenting `certificate`, read from its files as they are now: a renewed proxy is
   * picked up and never presented on an old TLS session (rucio#433). Closed with the others.
   */
  async presenting(certificate: ClientCertificate, connections = 2): Promise<Dispatcher> {
    const tls = await this.tls();
    const cert = await readCredential(certificate.certFile, 'client certificate');
    const key = await readCredential(certificate.keyFile, 'client key');
    return this.own(createAgent({ ...tls, cert, key }, connections));
  }

  /**
   * The pool for one login to the auth server: with the client certificate for x509 (built anew for
   * each login; logins are rare, once per token lifetime), else the API pool.
   */
  async loginDispatcher(certificate: ClientCertificate | undefined): Promise<Dispatcher> {
    if (certificate === undefined) return this.dispatcher();
    const fresh = await this.presenting(certificate);
    const previous = this.login;
    this.login = fresh;
    if (previous !== undefined) await this.release(previous);
    return fresh;
  }

  /** Closes a pool handed out earlier (e.g. one presenting a proxy that has since been renewed). */
  async retire(dispatcher: Dispatcher): Promise<void> {
    if (dispatcher === this.agent) return;
    await this.release(dispatcher);
  }

  /** Closes every pool; resolves to the errors met (never rejects). Memoised. */
  close(): Promise<unknown[]> {
    this.closing ??= Promise.allSettled([...this.owned].map((d) => d.close())).then((results) =>
      results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : [])),
    );
    return this.closing;
  }

  private own(dispatcher: Dispatcher): Dispatcher {
    this.owned.add(dispatcher);
    return dispatcher;
  }

  private async release(dispatcher: Dispatcher): Promise<void> {
    this.owned.delete(dispatcher);
    await dispatcher.close().catch(() => undefined);
  }
}

async function loadTls(settings: TlsSettings): Promise<TlsOptions> {
  const tls: TlsOptions = {};
  if (settings.insecure) tls.rejectUnauthorized = false;
  if (settings.caCert !== undefined) tls.ca = await readCa(settings.caCert);
  return tls;
}

async function readCredential(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; check the path and its permissions`);
  }
}

/** A CA bundle file, or a directory of PEM files (X509_CERT_DIR, hashed names included). */
async function readCa(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new ConfigError(`the CA certificate path ${path} (ca_cert / X509_CERT_DIR) does not exist; fix it or unset it`);
  }
  if (info.isFile()) return [await readCredential(path, 'CA bundle')];
  const names = (await readdir(path)).filter((n) => /\.(pem|crt|\d+)$/.test(n)).sort();
  const pems: string[] = [];
  for (const name of names) {
    const text = await readFile(join(path, name), 'utf8').catch(() => '');
    if (text.includes('-----BEGIN CERTIFICATE-----')) pems.push(text);
  }
  if (pems.length === 0) throw new ConfigError(`the CA directory ${path} holds no PEM certificates (*.pem, *.crt, *.0)`);
  return pems;
}
