import type { RucioClientOptions } from './client-rest.js';
import { ReplicaCalls } from './client-replicas.js';
import type { RucioConfig } from './config.js';
import type { RequestStats } from './http.js';
import { StorageCredentials } from './storage-credentials.js';
import { StorageRegistry } from './storage-registry.js';

export interface ClientStats extends RequestStats {
  /** Storage operations by protocol and verb, e.g. "s3 PUT". */
  storage: Record<string, number>;
}

/**
 * The Rucio REST client: one per process (or per worker), holding the token, the keep-alive
 * connections, RSE info and storage clients, so that after warm-up an upload costs one catalog
 * call. Every method maps failures to typed errors naming the operation and the DID.
 */
export class RucioClient extends ReplicaCalls {
  readonly storage: StorageRegistry;
  /** Errors met while closing (close() itself never throws, like BullMQ's Worker.close()). */
  readonly closeErrors: unknown[] = [];
  private closing: Promise<void> | undefined;

  constructor(config: RucioConfig, options: RucioClientOptions = {}) {
    super(config, options);
    this.storage = new StorageRegistry({
      rses: this,
      signUrl: (request) => this.signUrl(request),
      connections: this.connections,
      settings: config,
      credentials: new StorageCredentials(config, options.env ?? process.env),
    });
  }

  /** Requests made so far: catalog calls per endpoint (incl. auth), retries, and storage operations. */
  get stats(): ClientStats {
    return { ...this.requestStats, storage: { ...this.storage.counts } };
  }

  /** Closes connections and storage clients; every step runs even if one fails. Memoised. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const [storage, connections] = await Promise.allSettled([this.storage.close(), this.connections.close()]);
      if (storage.status === 'rejected') this.closeErrors.push(storage.reason);
      if (connections.status === 'fulfilled') this.closeErrors.push(...connections.value);
    })();
    return this.closing;
  }
}
