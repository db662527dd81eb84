import { join } from 'node:path';
// Rucio's own lfn2pfn, from its module rather than the client's barrel: the lake loads none of the client.
import { lfn2path, normalisedPrefix } from '../rucio/lfn2pfn.js';
import { ConfigError } from '../common/errors.js';

/** How a lake RSE stores its bytes; `davs` RSEs describe WebDAV storage the lake does not run. */
export type RseKind = 's3' | 'posix' | 'signed' | 'davs';

/** The URL schemes of lake RSE protocols. */
export type RseScheme = 's3' | 'file' | 'http' | 'davs';

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
}

/** What the rest of the project sees of an RSE (LakeSettings.rses). */
export interface LakeRse {
  name: string;
  scheme: RseScheme;
  prefix: string;
  /** The PFN of a DID is `pfnPrefix + lfn2pfn(scope, name)`, e.g. `s3://127.0.0.1:PORT/wavefier-lake/`. */
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

export const defaultRseConfigs: readonly LakeRseConfig[] = [
  { name: 'LAKE_S3', kind: 's3', prefix: '/wavefier-lake/' },
  { name: 'LAKE_POSIX', kind: 'posix' },
  {
    name: 'LAKE_SIGNED',
    kind: 'signed',
    prefix: '/wavefier-signed/',
    attributes: { sign_url: 's3', skip_upload_stat: true, verify_checksum: false },
  },
];

export function bindRse(config: LakeRseConfig, id: string, context: { dir: string; s3Host: string; s3Port: number }): RseRuntime {
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
  const scheme = config.kind === 's3' ? 's3' : 'http';
  return {
    id,
    name: config.name,
    kind: config.kind,
    scheme,
    hostname: context.s3Host,
    port: context.s3Port,
    prefix,
    impl: config.kind === 's3' ? 'rucio.rse.protocols.s3.Default' : 'rucio.rse.protocols.gfal.NoRename',
    extendedAttributes:
      config.kind === 's3' ? { endpoint_scheme: 'http', region: 'us-east-1', path_style: true } : null,
    attributes,
    lfn2pfnAlgorithm,
    bucket,
    keyPrefix,
    pfnPrefix: `${scheme}://${context.s3Host}:${context.s3Port}${prefix}`,
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
