import { join } from 'node:path';
// Rucio's own lfn2pfn, from its module rather than the client's barrel: the lake loads none of the client.
import { lfn2path, normalisedPrefix } from '../rucio/lfn2pfn.js';
import { ConfigError } from '../common/errors.js';

/** How a lake RSE stores its bytes; `davs` RSEs describe WebDAV storage the lake does not run. */
export type RseKind = 's3' | 'posix' | 'signed' | 'davs';

/** The URL schemes of lake RSE protocols. */
export type RseScheme = 'file' | 'https' | 's3' | 'davs';

/** An RSE as configured in `startLake({ rses })`. */
export interface LakeRseConfig {
  name: string;
  kind: RseKind;
  /** For s3/signed: `/<bucket>/...`; for posix: an absolute directory (default `<dir>/rse/<name>/`). */
  prefix?: string;
  /** Extra RSE attributes (merged over the defaults). */
  attributes?: Record<string, string | boolean | number>;
  lfn2pfnAlgorithm?: 'hash' | 'identity';
  /**
   * davs: the storage's base URL, `https://host[:port]/prefix/` (or `davs://`). Clients reach it
   * directly with their own X.509 proxy, certificate or bearer token, as with a real Rucio.
   */
  url?: string;
  /**
   * s3/signed: how the protocol is described. `https` (default): as Rucio 1.31 describes S3 storage,
   * over the lake's TLS endpoint. `s3`: scheme `s3` over the plain HTTP endpoint with
   * `extended_attributes` (endpoint_scheme, region, path_style), as the docker stack's MinIO RSEs are
   * (docker/rucio-init/rses.json); clients need the RSE's keys in rse-accounts.cfg for it.
   */
  scheme?: 'https' | 's3';
}

/** What the rest of the project sees of an RSE (LakeSettings.rses). */
export interface LakeRse {
  name: string;
  scheme: RseScheme;
  prefix: string;
  /** The PFN of a DID is `pfnPrefix + lfn2pfn(scope, name)`, e.g. `https://127.0.0.1:PORT/wavefier-lake/`. */
  pfnPrefix: string;
}

/** A configured RSE bound to the running storage (ports known). */
export interface RseRuntime {
  id: string;
  name: string;
  kind: RseKind;
  scheme: RseScheme;
  hostname: string;
  port: number;
  prefix: string;
  impl: string;
  extendedAttributes: Record<string, unknown> | null;
  attributes: Record<string, string | boolean | number>;
  lfn2pfnAlgorithm: 'hash' | 'identity';
  /** s3/signed: the bucket (first prefix segment) and the key prefix inside it. */
  bucket: string | undefined;
  keyPrefix: string;
  pfnPrefix: string;
}

/**
 * How a real Rucio describes S3 storage to 1.31 clients (Rucio's "S3 Storage Configuration"; the
 * protocol module `s3` is gone since 1.29): an `https` protocol served by `gfal.NoRename` (objects
 * cannot be renamed), URLs signed by the server with the RSE's keys (`sign_url: s3`, path style), and
 * no post-upload stat or checksum check (an S3 PUT has no adler32 to compare, and a URL signed for
 * GET cannot be used for the HEAD of a stat).
 */
const s3RseAttributes = { sign_url: 's3', s3_url_style: 'path', skip_upload_stat: true, verify_checksum: false, strict_copy: true } as const;

/**
 * LAKE_S3 and LAKE_SIGNED are described alike, as real S3 RSEs are; what differs is the client:
 * the lake's rse-accounts.cfg holds LAKE_S3's keys (wavefier signs its own requests), not
 * LAKE_SIGNED's (every request goes out with a URL the catalog signed).
 */
export const defaultRseConfigs: readonly LakeRseConfig[] = [
  { name: 'LAKE_S3', kind: 's3', prefix: '/wavefier-lake/', attributes: { ...s3RseAttributes } },
  { name: 'LAKE_POSIX', kind: 'posix' },
  { name: 'LAKE_SIGNED', kind: 'signed', prefix: '/wavefier-signed/', attributes: { ...s3RseAttributes } },
];

/** Where the RSEs' storage listens: the object store over TLS, and the lake directory for posix RSEs. */
export interface RseBindContext {
  dir: string;
  storageHost: string;
  storageTlsPort: number;
  /** The same storage over plain HTTP, for RSEs described with scheme `s3`. */
  storagePort: number;
}

export function bindRse(config: LakeRseConfig, id: string, context: RseBindContext): RseRuntime {
  const lfn2pfnAlgorithm = config.lfn2pfnAlgorithm ?? 'hash';
  const attributes: Record<string, string | boolean | number> = {
    [config.name]: true,
    lfn2pfn_algorithm: lfn2pfnAlgorithm,
    ...(config.attributes ?? {}),
  };
  if (config.kind === 'posix') {
    const prefix = normalisedPrefix(config.prefix ?? join(context.dir, 'rse', config.name));
    return {
      id,
      name: config.name,
      kind: 'posix',
      scheme: 'file',
      hostname: 'localhost',
      port: 0,
      prefix,
      impl: 'rucio.rse.protocols.posix.Default',
      extendedAttributes: null,
      attributes,
      lfn2pfnAlgorithm,
      bucket: undefined,
      keyPrefix: '',
      pfnPrefix: `file://localhost${prefix}`,
    };
  }
  if (config.kind === 'davs') return bindDavsRse(config, id, attributes, lfn2pfnAlgorithm);
  const prefix = normalisedPrefix(config.prefix ?? (config.kind === 's3' ? '/wavefier-lake/' : '/wavefier-signed/'));
  const [bucket = 'wavefier-lake', ...rest] = prefix.split('/').filter((part) => part !== '');
  const keyPrefix = rest.length === 0 ? '' : `${rest.join('/')}/`;
  const host = context.storageHost.includes(':') ? `[${context.storageHost}]` : context.storageHost;
  const plain = config.scheme === 's3';
  const port = plain ? context.storagePort : context.storageTlsPort;
  return {
    id,
    name: config.name,
    kind: config.kind,
    scheme: plain ? 's3' : 'https',
    hostname: context.storageHost,
    port,
    prefix,
    impl: 'rucio.rse.protocols.gfal.NoRename',
    extendedAttributes: plain ? { endpoint_scheme: 'http', region: 'us-east-1', path_style: true } : null,
    attributes,
    lfn2pfnAlgorithm,
    bucket,
    keyPrefix,
    pfnPrefix: `${plain ? 's3' : 'https'}://${host}:${port}${prefix}`,
  };
}

/**
 * A WebDAV RSE described the way a real Rucio describes one (`rucio-admin rse add-protocol
 * --scheme davs --impl rucio.rse.protocols.gfal.Default ...`): the PFN is
 * `davs://host:port/prefix/<lfn2pfn path>`. `verify_checksum` is false by default because a
 * plain Apache mod_dav computes no checksums to verify an upload against (dCache would).
 */
function bindDavsRse(
  config: LakeRseConfig,
  id: string,
  attributes: Record<string, string | boolean | number>,
  lfn2pfnAlgorithm: 'hash' | 'identity',
): RseRuntime {
  const text = config.url ?? '';
  const url = URL.canParse(text.replace(/^davs:/, 'https:')) ? new URL(text.replace(/^davs:/, 'https:')) : undefined;
  if (url === undefined || url.protocol !== 'https:' || url.hostname === '' || url.search !== '' || url.username !== '') {
    throw new ConfigError(`RSE ${config.name}: '${text}' is not a WebDAV base URL; use https://host[:port]/path/ (no query, no user)`);
  }
  const port = url.port === '' ? 443 : Number(url.port);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const prefix = normalisedPrefix(decodeURIComponent(url.pathname));
  return {
    id,
    name: config.name,
    kind: 'davs',
    scheme: 'davs',
    hostname,
    port,
    prefix,
    impl: 'rucio.rse.protocols.gfal.Default',
    extendedAttributes: null,
    attributes: { verify_checksum: false, ...attributes },
    lfn2pfnAlgorithm,
    bucket: undefined,
    keyPrefix: '',
    pfnPrefix: `davs://${url.hostname}:${port}${prefix}`,
  };
}

function pathFor(rse: RseRuntime, scope: string, name: string): string {
  return lfn2path(scope, name, rse.lfn2pfnAlgorithm);
}

export function pfnFor(rse: RseRuntime, scope: string, name: string): string {
  return rse.pfnPrefix + pathFor(rse, scope, name);
}

/** Where a replica's bytes live: an S3 bucket/key, a local file, or storage the lake does not run. */
export type ObjectLocation =
  | { kind: 's3'; bucket: string; key: string }
  | { kind: 'file'; path: string }
  | { kind: 'external'; pfn: string };

export function locationFor(rse: RseRuntime, scope: string, name: string): ObjectLocation {
  const path = pathFor(rse, scope, name);
  if (rse.kind === 'posix') return { kind: 'file', path: rse.prefix + path };
  if (rse.kind === 'davs') return { kind: 'external', pfn: rse.pfnPrefix + path };
  return { kind: 's3', bucket: rse.bucket ?? '', key: rse.keyPrefix + path };
}

export function publicRse(rse: RseRuntime): LakeRse {
  return { name: rse.name, scheme: rse.scheme, prefix: rse.prefix, pfnPrefix: rse.pfnPrefix };
}

const fullDomains = {
  lan: { read: 1, write: 1, delete: 1 },
  wan: { read: 1, write: 1, delete: 1, third_party_copy_read: 1, third_party_copy_write: 1 },
};

function protocolJson(rse: RseRuntime): Record<string, unknown> {
  return {
    hostname: rse.hostname,
    scheme: rse.scheme,
    port: rse.port,
    prefix: rse.prefix,
    impl: rse.impl,
    domains: fullDomains,
    extended_attributes: rse.extendedAttributes,
  };
}

const truthy = (value: unknown): boolean => value === true || value === 'True' || value === 'true' || value === 1;

/** `GET /rses/{rse}` (core/rse.py get_rse_protocols), as in transcript 03.2. */
export function rseInfoJson(rse: RseRuntime): Record<string, unknown> {
  const signUrl = rse.attributes.sign_url;
  const verify = rse.attributes.verify_checksum;
  return {
    availability_delete: true,
    availability_read: true,
    availability_write: true,
    credentials: null,
    deterministic: true,
    domain: ['lan', 'wan'],
    id: rse.id,
    lfn2pfn_algorithm: rse.lfn2pfnAlgorithm,
    protocols: [protocolJson(rse)],
    qos_class: null,
    rse: rse.name,
    rse_type: 'DISK',
    sign_url: typeof signUrl === 'string' ? signUrl : null,
    staging_area: false,
    verify_checksum: verify === undefined ? true : truthy(verify),
    volatile: false,
    read_protocol: 1,
    write_protocol: 1,
    delete_protocol: 1,
    third_party_copy_read_protocol: 1,
    third_party_copy_write_protocol: 1,
    availability: 7,
  };
}

/** One line of `GET /rses/` (transcript 06.3). */
export function rseListJson(rse: RseRuntime, createdAt: string): Record<string, unknown> {
  return {
    id: rse.id,
    rse: rse.name,
    vo: 'def',
    rse_type: 'DISK',
    deterministic: true,
    volatile: false,
    staging_area: false,
    city: null,
    region_code: null,
    country_name: null,
    continent: null,
    time_zone: null,
    ISP: null,
    ASN: null,
    longitude: null,
    latitude: null,
    availability: 7,
    availability_read: true,
    availability_write: true,
    availability_delete: true,
    qos_class: null,
    created_at: createdAt,
    updated_at: createdAt,
    deleted: false,
    deleted_at: null,
  };
}
