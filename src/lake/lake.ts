import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { join, resolve } from 'node:path';
import { definedProps } from '../common/defined.js';
import { ConfigError, NotFoundError, UnavailableError } from '../common/errors.js';
import { Catalog } from './catalog.js';
import { createCatalogServer } from './catalog-server.js';
import { prepareStateDirectory, prepareStorageTls, readOrCreateSecret, writeRseAccounts, writeRucioCfg, type RseCredentials } from './config-files.js';
import type { LakeContext } from './context.js';
import { openDatabase, type Db } from './database.js';
import { rfc1123 } from './dates.js';
import { FaultController } from './faults.js';
import { IdentityStore } from './identity-store.js';
import { isValidScope } from './names.js';
import { bindRse, defaultRseConfigs, publicRse, type LakeRse, type LakeRseConfig, type RseRuntime } from './rse.js';
import { RuleStore } from './rule-store.js';
import { RucioApiError } from './rucio-error.js';
import { createStorageServer } from './storage-server.js';
import type { StorageLimits } from './storage-request.js';

export interface LakeAccountConfig {
  account: string;
  type?: 'SERVICE' | 'USER' | 'GROUP';
  /** userpass identities of this account; a missing password is generated and kept in the lake dir. */
  identities?: { username: string; password?: string }[];
  scopes?: string[];
}

export interface LakeOptions {
  /** State directory (database, objects, config files). Default `./.wavefier/lake`. */
  dir?: string;
  host?: string;
  /** Catalog port; 0 (default) = ephemeral. */
  port?: number;
  /** S3 port (plain HTTP); 0 (default) = ephemeral. */
  s3Port?: number;
  /** Port of the same S3 storage over TLS, the one the RSEs describe; 0 (default) = ephemeral. */
  s3TlsPort?: number;
  /** Auth token lifetime, default 1 h. */
  tokenLifetimeMs?: number;
  /** Accounts; default: `root` (SERVICE) with userpass `wavefier` and scopes `wavefier`, `user.root`. */
  accounts?: LakeAccountConfig[];
  /** Extra scopes owned by the first account. */
  scopes?: string[];
  rses?: LakeRseConfig[];
  /**
   * WebDAV RSEs to describe besides `rses` (default name LAKE_DAVS): storage the lake does not run,
   * reached by clients with their own X.509 proxy, certificate or bearer token (`lake serve --davs-rse`).
   */
  davsRses?: { name?: string; url: string }[];
  /** Check S3 request signatures (SigV4) as real S3/MinIO do; default true. */
  verifyS3Signatures?: boolean;
  /** Largest S3 bodies accepted (default 256 MiB per object, 1 MiB per XML document). */
  storageLimits?: Partial<StorageLimits>;
  quiet?: boolean;
}

export interface LakeSettings {
  rucioHost: string;
  authHost: string;
  vo: 'def';
  account: string;
  username: string;
  password: string;
  scopes: string[];
  rses: LakeRse[];
  defaultRse: 'LAKE_S3';
  /** `endpoint`: plain HTTP; `tlsEndpoint`: the same storage over TLS, where the RSEs' PFNs point. */
  s3: { endpoint: string; tlsEndpoint: string; accessKeyId: string; secretAccessKey: string; region: string };
  /**
   * The CA of the storage's TLS certificate: `caCert` (PEM file, rucio.cfg `ca_cert`) and `caDir`
   * (the same CA under its OpenSSL hash name, for X509_CERT_DIR, which gfal2/davix read).
   */
  storageCa: { caCert: string; caDir: string };
  /**
   * What a wavefier client of this lake reads from rucio.cfg and rse-accounts.cfg, as settings
   * (`rucioConfigFrom({ ...settings })`): the storage CA, and the keys of the s3 RSEs.
   */
  caCert: string;
  rseAccounts: Record<string, { accessKeyId: string; secretAccessKey: string; region: string; endpoint: string; forcePathStyle: boolean }>;
  dir: string;
  rucioHome: string;
  rucioCfgPath: string;
  rseAccountsPath: string;
  adminToken: string;
}

/** A stored replica, for the object-tampering helpers. */
export interface ObjectRef {
  scope: string;
  name: string;
  rse: string;
}

export interface Lake {
  settings: LakeSettings;
  faults: FaultController;
  /** Flip bytes of / delete the stored object of a replica (what `/.lake/objects/*` does over HTTP). */
  objects: { corrupt: (ref: ObjectRef) => Promise<void>; delete: (ref: ObjectRef) => Promise<void> };
  close(): Promise<void>;
}

const region = 'us-east-1';

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        new UnavailableError(
          `cannot listen on ${host}:${port} (${error.code ?? error.message}): choose another port, or 0 for an ephemeral one`,
          { cause: error },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolvePort((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting, lets requests in flight finish for up to `graceMs`, then cuts what is left. */
function closeServer(server: Server, graceMs = 2000): Promise<void> {
  return new Promise((resolveClose) => {
    server.close(() => {
      clearTimeout(timer);
      resolveClose();
    });
    server.closeIdleConnections();
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  });
}

/** Rucio's RSE name rule (common/schema/generic.py). */
const rseNamePattern = /^[A-Z0-9]+([_-][A-Z0-9]+)*$/;

function davsRseConfigs(entries: { name?: string; url: string }[]): LakeRseConfig[] {
  return entries.map((entry, i) => {
    const name = entry.name ?? (i === 0 ? 'LAKE_DAVS' : `LAKE_DAVS_${i + 1}`);
    if (!rseNamePattern.test(name)) throw new ConfigError(`invalid RSE name '${name}': use upper-case letters and digits, joined by _ or -`);
    return { name, kind: 'davs', url: entry.url };
  });
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Starts the embedded lake: a Rucio-compatible catalog over SQLite and an in-process S3 server,
 * both on loopback. State lives in `dir` and survives restarts (ports may change).
 */
export async function startLake(options: LakeOptions = {}): Promise<Lake> {
  const dir = resolve(options.dir ?? join('.wavefier', 'lake'));
  const host = options.host ?? '127.0.0.1';
  const tokenLifetimeMs = options.tokenLifetimeMs ?? 3_600_000;
  if (!Number.isFinite(tokenLifetimeMs) || tokenLifetimeMs <= 0) throw new ConfigError(`token lifetime must be positive, not ${tokenLifetimeMs} ms`);

  const accounts: LakeAccountConfig[] = options.accounts ?? [
    { account: 'root', type: 'SERVICE', identities: [{ username: 'wavefier' }], scopes: ['wavefier', 'user.root'] },
  ];
  const first = accounts[0];
  const firstIdentity = first?.identities?.[0];
  if (first === undefined || firstIdentity === undefined) throw new ConfigError('the lake needs at least one account with a userpass identity');
  const extraScopes = options.scopes ?? [];
  for (const scope of [...extraScopes, ...accounts.flatMap((a) => a.scopes ?? [])]) {
    if (!isValidScope(scope)) throw new ConfigError(`invalid scope '${scope}': use letters, digits, '_', '-', '.' (max 25 characters)`);
  }
  const rseConfigs = [...(options.rses ?? defaultRseConfigs), ...davsRseConfigs(options.davsRses ?? [])];
  if (!rseConfigs.some((rse) => rse.name === 'LAKE_S3')) throw new ConfigError('the lake needs an RSE named LAKE_S3 (the default RSE)');
  const duplicate = rseConfigs.find((rse, i) => rseConfigs.findIndex((other) => other.name === rse.name) !== i);
  if (duplicate !== undefined) throw new ConfigError(`the lake has two RSEs named ${duplicate.name}: give each --davs-rse its own NAME=`);

  await prepareStateDirectory(dir);
  const db: Db = openDatabase(join(dir, 'catalog.sqlite'));
  const closers: (() => Promise<void> | void)[] = [() => {
    db.close();
  }];
  try {
    const identity = new IdentityStore(db);
    const passwords = new Map<string, string>();
    for (const account of accounts) {
      identity.ensureAccount(account.account, account.type ?? 'USER');
      for (const id of account.identities ?? []) {
        const password = id.password ?? (await readOrCreateSecret(join(dir, `password-${id.username}`)));
        passwords.set(`${account.account}/${id.username}`, password);
        identity.ensureUserpass(id.username, account.account, password);
      }
      for (const scope of account.scopes ?? []) identity.ensureScope(scope, account.account);
    }
    for (const scope of extraScopes) identity.ensureScope(scope, first.account);
    const adminToken = await readOrCreateSecret(join(dir, 'admin-token'), () => randomBytes(24).toString('hex'));
    const s3Secrets = {
      accessKeyId: await readOrCreateSecret(join(dir, 's3-access-key'), () => `LAKE${randomBytes(8).toString('hex').toUpperCase()}`),
      secretAccessKey: await readOrCreateSecret(join(dir, 's3-secret-key'), () => randomBytes(24).toString('base64url')),
    };

    const faults = new FaultController();
    const buckets = new Set<string>();
    for (const config of rseConfigs) {
      if (config.kind === 's3' || config.kind === 'signed') {
        const bucket = (config.prefix ?? (config.kind === 's3' ? '/wavefier-lake/' : '/wavefier-signed/')).split('/').filter((p) => p !== '')[0];
        if (bucket !== undefined) buckets.add(bucket);
      }
    }
    const storage = await createStorageServer({
      directory: join(dir, 's3'),
      buckets: [...buckets],
      ...s3Secrets,
      region,
      faults,
      verifySignatures: options.verifyS3Signatures ?? true,
      ...definedProps({ limits: options.storageLimits }),
      onError: (error) => {
        if (options.quiet !== true) process.stderr.write(`wavefier lake: storage internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      },
    });
    const s3Port = await listen(storage.server, options.s3Port ?? 0, host);
    closers.push(() => closeServer(storage.server));
    const s3Endpoint = `http://${urlHost(host)}:${s3Port}`;
    // The same storage over TLS: Rucio 1.31 clients reach S3 only through https URLs (and sign
    // only those). Requests go to the plain server's handler, so faults and limits apply alike.
    const storageTls = await prepareStorageTls(dir, host);
    const tlsServer = createTlsServer({ cert: storageTls.server.cert, key: storageTls.server.key }, (req, res) => storage.server.emit('request', req, res));
    const s3TlsPort = await listen(tlsServer, options.s3TlsPort ?? 0, host);
    closers.push(() => closeServer(tlsServer));
    const s3TlsEndpoint = `https://${urlHost(host)}:${s3TlsPort}`;
    // Presigned URLs point where the RSEs' PFNs do, as a real Rucio server signs them (https).
    storage.setEndpoint(s3TlsEndpoint);

    const rseIdStatement = db.prepare<[string], { id: string; created_at: number }>('SELECT id, created_at FROM rses WHERE rse = ?');
    const insertRse = db.prepare('INSERT INTO rses (rse, id, created_at) VALUES (?, ?, ?)');
    let createdAt = Date.now();
    const rses: RseRuntime[] = rseConfigs.map((config) => {
      let row = rseIdStatement.get(config.name);
      if (row === undefined) {
        row = { id: randomBytes(16).toString('hex'), created_at: Date.now() };
        insertRse.run(config.name, row.id, row.created_at);
      }
      createdAt = Math.min(createdAt, row.created_at);
      return bindRse(config, row.id, { dir, storageHost: host, storageTlsPort: s3TlsPort, storagePort: s3Port });
    });
    for (const rse of rses) if (rse.kind === 'posix') await mkdir(rse.prefix, { recursive: true });

    const context: LakeContext = {
      identity,
      catalog: new Catalog(db),
      rules: new RuleStore(db),
      rses,
      rseByName: new Map(rses.map((rse) => [rse.name, rse])),
      rseCreatedAt: rfc1123(createdAt),
      tokenLifetimeMs,
      faults,
      storage,
      adminToken,
    };
    // Nothing stays of it; a catalog that cannot run it meets the problem again at the first request.
    context.catalog.warmUp();
    const catalogServer = createCatalogServer(context, {
      onError: (error) => {
        if (options.quiet !== true) process.stderr.write(`wavefier lake: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      },
    });
    const port = await listen(catalogServer, options.port ?? 0, host);
    closers.push(() => closeServer(catalogServer));
    const rucioHost = `http://${urlHost(host)}:${port}`;
    const password = passwords.get(`${first.account}/${firstIdentity.username}`) ?? '';

    const rucioCfgPath = await writeRucioCfg(dir, { rucioHost, authHost: rucioHost, account: first.account, username: firstIdentity.username, password, caCert: storageTls.caCert });
    // Keys for the s3 RSEs only: a signed RSE's client has none and asks the catalog to sign. A
    // client with the keys (wavefier) reaches the same storage on its plain HTTP endpoint, where a
    // local lake's TLS would buy nothing and cost every request; the official client, which needs
    // https URLs to sign, uses the PFNs' TLS endpoint (and LAKE_SIGNED takes wavefier there too).
    const credentials: Record<string, RseCredentials> = {};
    for (const rse of rses) {
      if (rse.kind !== 's3') continue;
      credentials[rse.name] = {
        access_key: s3Secrets.accessKeyId,
        secret_key: s3Secrets.secretAccessKey,
        is_secure: false,
        signature_version: 's3v4',
        region,
        path_style: true,
        endpoint: s3Endpoint,
      };
    }
    const rseAccountsPath = await writeRseAccounts(dir, credentials);

    const settings: LakeSettings = {
      rucioHost,
      authHost: rucioHost,
      vo: 'def',
      account: first.account,
      username: firstIdentity.username,
      password,
      scopes: identity.listAccountScopes(first.account),
      rses: rses.map(publicRse),
      defaultRse: 'LAKE_S3',
      s3: { endpoint: s3Endpoint, tlsEndpoint: s3TlsEndpoint, ...s3Secrets, region },
      storageCa: { caCert: storageTls.caCert, caDir: storageTls.caDir },
      caCert: storageTls.caCert,
      rseAccounts: Object.fromEntries(
        Object.entries(credentials).map(([name, c]) => [name, { accessKeyId: c.access_key, secretAccessKey: c.secret_key, region: c.region, endpoint: c.endpoint, forcePathStyle: c.path_style }]),
      ),
      dir,
      rucioHome: dir,
      rucioCfgPath,
      rseAccountsPath,
      adminToken,
    };

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        const errors: unknown[] = [];
        for (const closer of [...closers].reverse()) {
          try {
            await closer();
          } catch (error) {
            errors.push(error);
          }
        }
        if (errors.length > 0 && options.quiet !== true) process.stderr.write(`wavefier lake: ${errors.length} error(s) while closing\n`);
      })());
    const tamper = async (ref: ObjectRef, action: 'corrupt' | 'delete'): Promise<void> => {
      const rse = context.rseByName.get(ref.rse);
      if (rse === undefined) throw new NotFoundError(`RSE '${ref.rse}' is not an RSE of this lake (${rses.map((r) => r.name).join(', ')})`);
      try {
        if (action === 'corrupt') await storage.corruptObject(rse, ref.scope, ref.name);
        else await storage.deleteObject(rse, ref.scope, ref.name);
      } catch (error) {
        throw error instanceof RucioApiError ? new NotFoundError(`${error.message}: nothing to ${action}`) : error;
      }
      faults.noteObject(action === 'corrupt' ? 'corrupted' : 'deleted');
    };
    const objects = {
      corrupt: (ref: ObjectRef) => tamper(ref, 'corrupt'),
      delete: (ref: ObjectRef) => tamper(ref, 'delete'),
    };
    return { settings, faults, objects, close };
  } catch (error) {
    for (const closer of [...closers].reverse()) {
      try {
        await closer();
      } catch {
        // already failing; the original error matters
      }
    }
    throw error;
  }
}
