import { stat } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import { checkCertificateValid, type StorageCertificate } from './storage-credentials.js';
import type { ClientCertificate } from './tls.js';

/** Where pools presenting a client certificate come from (TlsConnections). */
export interface CertificatePools {
  presenting(certificate: ClientCertificate, connections?: number): Promise<Dispatcher>;
  retire(dispatcher: Dispatcher): Promise<void>;
}

/** How often the certificate files are looked at again (a renewed proxy, an expiry). */
const checkEveryMs = 30_000;

/**
 * The connection pool presenting a client certificate to storage, for a run of hours: the files
 * are looked at every 30 s; a renewed proxy (voms-proxy-init rewrote the file) gets a new pool,
 * so new connections present the new proxy, and one that expired meanwhile is named as such
 * before any connection is tried (a ConfigError with the file, its source and the cure).
 */
export class CertificatePool {
  private current: { pool: Dispatcher; fingerprint: string } | undefined;
  private checkedAt = 0;
  private checking: Promise<Dispatcher> | undefined;

  constructor(
    readonly certificate: StorageCertificate,
    private readonly pools: CertificatePools,
    private readonly connections: number,
  ) {}

  dispatcher(): Promise<Dispatcher> {
    if (this.current !== undefined && Date.now() - this.checkedAt < checkEveryMs) return Promise.resolve(this.current.pool);
    this.checking ??= this.check().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async check(): Promise<Dispatcher> {
    await checkCertificateValid(this.certificate);
    const fingerprint = await this.fingerprint();
    this.checkedAt = Date.now();
    if (this.current !== undefined && this.current.fingerprint === fingerprint) return this.current.pool;
    const pool = await this.pools.presenting(this.certificate, this.connections);
    const previous = this.current;
    this.current = { pool, fingerprint };
    // Requests in flight on the old pool finish; close() waits for them.
    if (previous !== undefined) void this.pools.retire(previous.pool).catch(() => undefined);
    return pool;
  }

  private async fingerprint(): Promise<string> {
    const files = [...new Set([this.certificate.certFile, this.certificate.keyFile])];
    const infos = await Promise.all(files.map((file) => stat(file).then((i) => `${i.ino}:${i.size}:${i.mtimeMs}`, () => 'missing')));
    return infos.join('|');
  }
}
