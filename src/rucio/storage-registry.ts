import { ConfigError } from '../common/errors.js';
import type { RucioClient } from './client.js';
import { isLocalLfn2pfn, lfn2pfn } from './lfn2pfn.js';
import type { ObjectStore, PutOptions, StoreCallOptions } from './object-store.js';
import { protocolsFor, type Operation, type RseInfo, type RseProtocol } from './rse.js';
import { FileStore } from './store-file.js';
import { HttpStore } from './store-http.js';
import { S3DirectStore } from './store-s3-direct.js';
import { S3Store } from './store-s3.js';

export interface WriteTarget {
  rse: RseInfo;
  protocol: RseProtocol;
  pfn: string;
  store: ObjectStore;
}

/**
 * Storage clients per RSE protocol, created on first use and kept (one S3 client per endpoint and
 * credentials, so connections are reused). Every operation is counted in the client's stats.
 */
export class StorageRegistry {
  private readonly stores = new Map<string, Promise<ObjectStore>>();

  constructor(
    private readonly client: RucioClient,
    private readonly counts: Record<string, number>,
  ) {}

  /** Where a new file goes on `rseName`: its deterministic PFN under the best write protocol. */
  async writeTarget(rseName: string, scope: string, name: string): Promise<WriteTarget> {
    const rse = await this.client.rse(rseName);
    const protocol = protocolsFor(rse, 'write')[0];
    if (protocol === undefined) {
      throw new ConfigError(`RSE ${rseName} has no protocol that allows writes; check its protocol domains (wan/lan write)`);
    }
    let pfn: string;
    if (rse.deterministic && isLocalLfn2pfn(rse.lfn2pfnAlgorithm)) {
      pfn = lfn2pfn(scope, name, protocol, rse.lfn2pfnAlgorithm);
    } else {
      const answer = await this.client.lfns2pfns(rseName, [{ scope, name }], { scheme: protocol.scheme, operation: 'write' });
      const resolved = answer[`${scope}:${name}`];
      if (resolved === undefined) throw new ConfigError(`RSE ${rseName} did not resolve a PFN for ${scope}:${name}`);
      pfn = resolved;
    }
    return { rse, protocol, pfn, store: await this.forProtocol(rse, protocol) };
  }

  /** The store that serves `pfn` on `rseName` (matched against the RSE's protocols). */
  async forPfn(rseName: string, pfn: string, operation: Operation = 'read'): Promise<ObjectStore> {
    const rse = await this.client.rse(rseName);
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

  private async create(rse: RseInfo, protocol: RseProtocol): Promise<ObjectStore> {
    const { config } = this.client;
    const tls = await this.client.tls();
    switch (protocol.scheme) {
      case 'file':
      case 'posix':
        return new FileStore();
      case 's3': {
        const ext = protocol.extended_attributes ?? {};
        const creds = config.rseAccounts[rse.name] ?? config.s3;
        const endpointScheme = typeof ext.endpoint_scheme === 'string' ? ext.endpoint_scheme : protocol.port === 80 ? 'http' : 'https';
        const endpoint = creds?.endpoint ?? `${endpointScheme}://${protocol.hostname}:${protocol.port}`;
        const urlStyle = rse.attributes.s3_url_style;
        const pathStyle =
          typeof ext.path_style === 'boolean' ? ext.path_style : urlStyle === 'host' ? false : (creds?.forcePathStyle ?? true);
        const region = typeof ext.region === 'string' ? ext.region : (creds?.region ?? 'us-east-1');
        if (creds !== undefined && config.s3Engine === 'direct') {
          return new S3DirectStore({
            endpoint,
            region,
            credentials: {
              accessKeyId: creds.accessKeyId,
              secretAccessKey: creds.secretAccessKey,
              ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}),
            },
            forcePathStyle: pathStyle,
            dispatcher: await this.client.storageDispatcher(),
            timeoutMs: config.timeoutMs,
          });
        }
        return new S3Store({
          endpoint,
          region,
          credentials: creds
            ? {
                accessKeyId: creds.accessKeyId,
                secretAccessKey: creds.secretAccessKey,
                ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}),
              }
            : undefined,
          forcePathStyle: pathStyle,
          checksums: config.s3Checksums,
          requestTimeoutMs: config.timeoutMs,
          ca: tls.ca,
          rejectUnauthorized: tls.rejectUnauthorized ?? true,
        });
      }
      case 'http':
      case 'https':
      case 'davs': {
        const signService = rse.signUrl;
        return new HttpStore({
          scheme: protocol.scheme,
          dispatcher: await this.client.storageDispatcher(),
          timeoutMs: config.timeoutMs,
          sign:
            signService === undefined
              ? undefined
              : (operation, pfn) =>
                  // list_replicas may already hand out signed URLs: never sign twice.
                  /[?&](X-Amz-Signature|Signature)=/.test(pfn)
                    ? Promise.resolve(pfn)
                    : this.client.signUrl({ rse: rse.name, url: pfn, operation, service: signService }),
        });
      }
      default:
        throw new ConfigError(
          `RSE ${rse.name} protocol '${protocol.scheme}' is not supported by wavefier (supported: s3, file, http, https, davs)`,
        );
    }
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
    };
  }

  async close(): Promise<void> {
    const stores = await Promise.allSettled([...this.stores.values()]);
    this.stores.clear();
    await Promise.allSettled(stores.map((s) => (s.status === 'fulfilled' ? s.value.close() : Promise.resolve())));
  }
}
