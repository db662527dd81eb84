import { readFile } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import { definedProps } from '../common/defined.js';
import { ConfigError } from '../common/errors.js';
import type { RucioConfig, S3Settings } from './config.js';
import { isLocalLfn2pfn, lfn2pfn } from './lfn2pfn.js';
import type { ObjectStore, PutOptions, StoreCallOptions } from './object-store.js';
import { protocolsFor, type Operation, type RseInfo, type RseProtocol, type SignUrlRequest } from './rse.js';
import { FileStore } from './store-file.js';
import type { StorageCredentials } from './storage-credentials.js';
import type { DavStoreOptions } from './store-davs.js';
import type { CertificatePools } from './store-davs-pool.js';
import type { TlsOptions } from './tls.js';

/** What the registry asks the catalog: an RSE's settings and protocols, and the PFNs it cannot compute itself. */
export interface RseLookup {
  rse(name: string): Promise<RseInfo>;
  lfns2pfns(
    rse: string,
    lfns: { scope: string; name: string }[],
    options: { scheme?: string; operation?: Operation },
  ): Promise<Record<string, string>>;
}

/** Presigns a storage URL (Rucio's `GET /credentials/signurl`) for RSEs whose keys only the server holds. */
export type SignUrl = (request: SignUrlRequest) => Promise<string>;

/** The TLS of storage endpoints: the CA and verification setting of the Rucio servers. */
export interface StorageTls extends CertificatePools {
  tls(): Promise<TlsOptions>;
  /** A keep-alive pool for storage URLs, verifying as `tls()` says. */
  dispatcher(): Promise<Dispatcher>;
}

/** What the registry reads from the configuration: the storage credentials and how to talk to storage. */
export type StorageSettings = Pick<RucioConfig, 's3' | 'rseAccounts' | 's3Checksums' | 's3Engine' | 'timeoutMs'> &
  Partial<Pick<RucioConfig, 'caCert' | 'insecure' | 'sources'>>;

export interface StorageRegistryOptions {
  rses: RseLookup;
  signUrl: SignUrl;
  connections: StorageTls;
  settings: StorageSettings;
  /** The certificate/proxy and bearer token presented to WebDAV storage; none when absent. */
  credentials?: StorageCredentials;
}

export interface WriteTarget {
  rse: RseInfo;
  protocol: RseProtocol;
  pfn: string;
  store: ObjectStore;
}

/** What a protocol's factory builds its store from: one protocol of one RSE, and the registry's means. */
interface StoreContext extends StorageRegistryOptions {
  rse: RseInfo;
  protocol: RseProtocol;
}

type StoreFactory = (context: StoreContext) => ObjectStore | Promise<ObjectStore>;

/**
 * Storage clients per RSE protocol, created on first use and kept (one S3 client per endpoint and
 * credentials, so connections are reused). Every operation is counted in `counts`. It knows the
 * catalog only through `RseLookup` and `SignUrl`, so it works with any source of RSE descriptions.
 */
export class StorageRegistry {
  /** Storage operations by protocol and verb, e.g. "s3 PUT". */
  readonly counts: Record<string, number> = {};
  private readonly stores = new Map<string, Promise<ObjectStore>>();

  constructor(private readonly options: StorageRegistryOptions) {}

  /** Where a new file goes on `rseName`: its deterministic PFN under the best write protocol. */
  async writeTarget(rseName: string, scope: string, name: string): Promise<WriteTarget> {
    const rse = await this.options.rses.rse(rseName);
    const protocol = protocolsFor(rse, 'write')[0];
    if (protocol === undefined) {
      throw new ConfigError(`RSE ${rseName} has no protocol that allows writes; check its protocol domains (wan/lan write)`);
    }
    let pfn: string;
    if (rse.deterministic && isLocalLfn2pfn(rse.lfn2pfnAlgorithm)) {
      pfn = lfn2pfn(scope, name, protocol, rse.lfn2pfnAlgorithm);
    } else {
      const answer = await this.options.rses.lfns2pfns(rseName, [{ scope, name }], { scheme: protocol.scheme, operation: 'write' });
      const resolved = answer[`${scope}:${name}`];
      if (resolved === undefined) throw new ConfigError(`RSE ${rseName} did not resolve a PFN for ${scope}:${name}`);
      pfn = resolved;
    }
    return { rse, protocol, pfn, store: await this.forProtocol(rse, protocol) };
  }

  /** The store that serves `pfn` on `rseName` (matched against the RSE's protocols). */
  async forPfn(rseName: string, pfn: string, operation: Operation = 'read'): Promise<ObjectStore> {
    const rse = await this.options.rses.rse(rseName);
    const scheme = pfn.slice(0, Math.max(0, pfn.indexOf('://')));
    const candidates = protocolsFor(rse, operation).concat(rse.protocols);
    const protocol =
      candidates.find((p) => p.scheme === scheme && pfn.startsWith(`${p.scheme}://${p.hostname}`)) ??
      candidates.find((p) => p.scheme === scheme);
    if (protocol === undefined) {
      throw new ConfigError(`RSE ${rseName} has no '${scheme}' protocol for ${pfn}; the replica's PFN does not match the RSE`);
    }
    return this.forProtocol(rse, protocol);
  }

  forProtocol(rse: RseInfo, protocol: RseProtocol): Promise<ObjectStore> {
    const key = `${rse.name}|${protocol.scheme}|${protocol.hostname}|${protocol.port}`;
    let store = this.stores.get(key);
    if (store === undefined) {
      store = this.create(rse, protocol).then((s) => this.counted(s));
      this.stores.set(key, store);
    }
    return store;
  }

  async close(): Promise<void> {
    const stores = await Promise.allSettled([...this.stores.values()]);
    this.stores.clear();
    await Promise.allSettled(stores.map((s) => (s.status === 'fulfilled' ? s.value.close() : Promise.resolve())));
  }

  private async create(rse: RseInfo, protocol: RseProtocol): Promise<ObjectStore> {
    const factory = storeFactories.get(protocol.scheme);
    if (factory === undefined) {
      throw new ConfigError(
        `RSE ${rse.name} protocol '${protocol.scheme}' is not supported by wavefier (supported: ${[...storeFactories.keys()].join(', ')})`,
      );
    }
    return factory({ ...this.options, rse, protocol });
  }

  private counted(store: ObjectStore): ObjectStore {
    const count = (verb: string): void => {
      const key = `${store.scheme} ${verb}`;
      this.counts[key] = (this.counts[key] ?? 0) + 1;
    };
    return {
      scheme: store.scheme,
      put: (pfn: string, bytes: Uint8Array, o?: PutOptions) => (count('PUT'), store.put(pfn, bytes, o)),
      get: (pfn: string, o?: StoreCallOptions) => (count('GET'), store.get(pfn, o)),
      stat: (pfn: string, o?: StoreCallOptions) => (count('STAT'), store.stat(pfn, o)),
      delete: (pfn: string, o?: StoreCallOptions) => (count('DELETE'), store.delete(pfn, o)),
      close: () => store.close(),
      ...definedProps({
        presented: store.presented,
        removeEmptyParents: store.removeEmptyParents?.bind(store),
      }),
    };
  }
}

function fileStore(): ObjectStore {
  return new FileStore();
}

/**
 * S3 with the RSE's own credentials (rse-accounts.cfg) or the default ones: the direct SigV4 engine
 * when credentials are explicit, else the AWS SDK so that its credential chain applies.
 */
async function s3Store({ rse, protocol, settings, connections }: StoreContext): Promise<ObjectStore> {
  const ext = protocol.extended_attributes ?? {};
  const creds = settings.rseAccounts[rse.name] ?? settings.s3;
  const endpointScheme = typeof ext.endpoint_scheme === 'string' ? ext.endpoint_scheme : protocol.port === 80 ? 'http' : 'https';
  const endpoint = creds?.endpoint ?? `${endpointScheme}://${protocol.hostname}:${protocol.port}`;
  const urlStyle = rse.attributes.s3_url_style;
  const forcePathStyle = typeof ext.path_style === 'boolean' ? ext.path_style : urlStyle === 'host' ? false : (creds?.forcePathStyle ?? true);
  const region = typeof ext.region === 'string' ? ext.region : (creds?.region ?? 'us-east-1');
  if (creds !== undefined && settings.s3Engine === 'direct') {
    const { S3DirectStore } = await import('./store-s3-direct.js');
    return new S3DirectStore({
      endpoint,
      region,
      credentials: s3Credentials(creds),
      forcePathStyle,
      dispatcher: await connections.dispatcher(),
      timeoutMs: settings.timeoutMs,
    });
  }
  const [tls, { S3Store }] = await Promise.all([connections.tls(), import('./store-s3.js')]);
  return new S3Store({
    endpoint,
    region,
    credentials: creds === undefined ? undefined : s3Credentials(creds),
    forcePathStyle,
    checksums: settings.s3Checksums,
    requestTimeoutMs: settings.timeoutMs,
    ca: tls.ca,
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
  });
}

function s3Credentials(creds: S3Settings): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } {
  return { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, ...definedProps({ sessionToken: creds.sessionToken }) };
}

/** A URL presigned by the Rucio server (`GET /credentials/signurl`) for RSEs with `sign_url`. */
async function presignedStore({ rse, protocol, settings, connections, signUrl }: StoreContext): Promise<ObjectStore> {
  const service = rse.signUrl;
  const { HttpStore } = await import('./store-http.js');
  return new HttpStore({
    scheme: protocol.scheme === 'http' ? 'http' : protocol.scheme === 'davs' ? 'davs' : 'https',
    dispatcher: await connections.dispatcher(),
    timeoutMs: settings.timeoutMs,
    sign:
      service === undefined
        ? undefined
        : (operation, pfn) =>
            // list_replicas may already hand out signed URLs: never sign twice.
            /[?&](X-Amz-Signature|Signature)=/.test(pfn) ? Promise.resolve(pfn) : signUrl({ rse: rse.name, url: pfn, operation, service }),
  });
}

/** Which CAs verify storage certificates, for error messages. */
function trustOf(settings: StorageSettings): string {
  if (settings.insecure === true) return 'none: TLS verification is off (--insecure)';
  if (settings.caCert !== undefined) return `${settings.caCert} (${settings.sources?.caCert ?? 'settings'})`;
  return "the system CA store (no --ca-cert, X509_CERT_DIR or rucio.cfg ca_cert)";
}

/**
 * WebDAV (davs/https, Rucio's `gfal.Default` and `webdav.Default` protocols) with the client
 * certificate or proxy and the bearer token of `credentials`; presigned URLs instead when the RSE
 * has `sign_url`.
 */
async function webStore(context: StoreContext): Promise<ObjectStore> {
  const { rse, protocol, settings, connections, credentials } = context;
  // An S3 RSE as Rucio 1.31 describes one (https, sign_url s3) whose keys rse-accounts.cfg holds:
  // requests signed here cost no catalog call, where a presigned URL costs one per request.
  if (rse.signUrl === 's3' && settings.rseAccounts[rse.name] !== undefined) return s3Store(context);
  if (rse.signUrl !== undefined) return presignedStore(context);
  const certificate = await credentials?.certificate();
  const bearer = await credentials?.bearer();
  const [{ CertificatePool }, { DavStore }] = await Promise.all([import('./store-davs-pool.js'), import('./store-davs.js')]);
  const certificatePool = certificate === undefined ? undefined : new CertificatePool(certificate, connections, 32);
  // Fails now, with the file and the cure, if the certificate or proxy has expired.
  if (certificatePool !== undefined) await certificatePool.dispatcher();
  const scheme = protocol.scheme as DavStoreOptions['scheme'];
  return new DavStore({
    scheme,
    prefix: protocol.prefix,
    dispatcher: () => (certificatePool === undefined ? connections.dispatcher() : certificatePool.dispatcher()),
    certificate,
    bearer,
    trust: trustOf(settings),
    tls: async () => {
      const tls = await connections.tls();
      if (certificate === undefined) return tls;
      return { ...tls, cert: await readFile(certificate.certFile, 'utf8'), key: await readFile(certificate.keyFile, 'utf8') };
    },
    timeoutMs: settings.timeoutMs,
  });
}

/**
 * The storage protocols wavefier speaks, by RSE protocol scheme: a new protocol is one more entry.
 * Each factory loads its client's module on first use: a run on one RSE loads one storage client, and
 * never the AWS SDK (~130 ms of CPU at start-up, in every worker process) unless `--s3-engine sdk` or
 * an S3 RSE without explicit keys needs it.
 */
const storeFactories: ReadonlyMap<string, StoreFactory> = new Map<string, StoreFactory>([
  ['file', fileStore],
  ['posix', fileStore],
  ['s3', s3Store],
  ['http', webStore],
  ['https', webStore],
  ['davs', webStore],
  ['dav', webStore],
]);
