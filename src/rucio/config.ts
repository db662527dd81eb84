import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { definedProps } from '../common/defined.js';
import { ConfigError } from '../common/errors.js';
import { authTypes, type AuthType } from './auth-types.js';
import { parseIni } from './ini.js';

/**
 * Connection settings for a Rucio deployment, resolved the way the official client does
 * (rucio.cfg `[client]` + the RUCIO_* variables it honours) with wavefier's flags on top:
 * flags > environment > rucio.cfg. Everything is validated once, here.
 */

/** S3 credentials (and endpoint defaults) for an RSE, or for every RSE when given as `s3`. */
export interface S3Settings {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region?: string;
  /** Overrides the endpoint derived from the RSE protocol (scheme://host:port). */
  endpoint?: string;
  forcePathStyle?: boolean;
}

/** Explicit connection values, as flags, the lake or a test give them. */
export interface RucioSettings {
  rucioHost: string;
  authHost?: string;
  authType?: AuthType;
  account: string;
  vo?: string;
  username?: string;
  password?: string;
  clientCert?: string;
  clientKey?: string;
  clientProxy?: string;
  /** CA bundle file or a directory of PEM certificates (X509_CERT_DIR). */
  caCert?: string;
  /** Skip TLS verification of the Rucio servers (never the default). */
  insecure?: boolean;
  /** A bearer token (auth type `token`/`oidc`), or the file it is read from. */
  token?: string;
  tokenFile?: string;
  /** Where the Rucio token is cached (rucio.cfg `auth_token_file_path`); default under the temp dir. */
  tokenCachePath?: string;
  /** Directory of the default token cache; default `<tmpdir>/<user>/.wavefier_rucio`. */
  tokenCacheDir?: string;
  /** oidc: renew the official client's cached token as it does (rucio.cfg `auth_oidc_refresh_active`). */
  oidcRefreshActive?: boolean;
  /** oidc: minutes before expiry to start renewing (rucio.cfg `auth_oidc_refresh_before_exp`, default 20). */
  oidcRefreshBeforeExpMinutes?: number;
  /** Per-request timeout in ms (default 30 s). */
  timeoutMs?: number;
  /** Attempts for retryable failures (default 4). */
  retries?: number;
  /** Default S3 credentials for every RSE without its own entry in `rseAccounts`. */
  s3?: S3Settings;
  /** Per-RSE S3 credentials (rse-accounts.cfg). */
  rseAccounts?: Record<string, S3Settings>;
  /** AWS SDK checksum behaviour; WHEN_REQUIRED is safe for non-AWS servers (s3rver, MinIO, Ceph). */
  s3Checksums?: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';
  /**
   * How `s3` requests are made: `direct` (default; SigV4-signed requests over keep-alive undici,
   * about 1 ms less CPU per request) or `sdk` (the full AWS SDK client, also used automatically when
   * no explicit credentials are configured so the SDK's credential chain applies).
   */
  s3Engine?: 'direct' | 'sdk';
}

export interface RucioConfig {
  readonly rucioHost: string;
  readonly authHost: string;
  readonly authType: AuthType;
  readonly account: string;
  readonly vo: string;
  readonly username?: string;
  readonly password?: string;
  readonly clientCert?: string;
  readonly clientKey?: string;
  readonly clientProxy?: string;
  readonly caCert?: string;
  readonly insecure: boolean;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly tokenCachePath?: string;
  readonly tokenCacheDir?: string;
  readonly oidcRefreshActive: boolean;
  readonly oidcRefreshBeforeExpMinutes: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly s3?: S3Settings;
  readonly rseAccounts: Readonly<Record<string, S3Settings>>;
  readonly s3Checksums: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';
  readonly s3Engine: 'direct' | 'sdk';
  /** The rucio.cfg that was read, if any. */
  readonly configFile?: string;
  /** Where each setting came from ("flag", "env RUCIO_ACCOUNT", "/etc/rucio.cfg [client] account"). */
  readonly sources: Readonly<Record<string, string>>;
}

const hostUrl = z
  .string()
  .trim()
  .refine((value) => /^https?:\/\/[^/\s]+/.test(value) && URL.canParse(value), {
    error: 'must be an http:// or https:// URL, e.g. https://rucio.example.org:443',
  })
  .transform((value) => value.replace(/\/+$/, ''));

const nonEmpty = z.string().trim().min(1, 'must not be empty');

const s3Schema = z.object({
  accessKeyId: nonEmpty,
  secretAccessKey: nonEmpty,
  sessionToken: nonEmpty.optional(),
  region: nonEmpty.optional(),
  endpoint: hostUrl.optional(),
  forcePathStyle: z.boolean().optional(),
});

const settingsSchema = z.object({
  rucioHost: hostUrl,
  authHost: hostUrl.optional(),
  authType: z.enum(authTypes, { error: `must be one of ${authTypes.join(', ')}` }).optional(),
  account: z
    .string()
    .trim()
    .regex(/^[a-z0-9_-]{1,25}$/, 'must be 1-25 characters of a-z, 0-9, - and _ (a Rucio account name)'),
  vo: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]{1,32}$/, 'must be a short VO name such as def')
    .optional(),
  username: nonEmpty.optional(),
  password: z.string().min(1, 'must not be empty').optional(),
  clientCert: nonEmpty.optional(),
  clientKey: nonEmpty.optional(),
  clientProxy: nonEmpty.optional(),
  caCert: nonEmpty.optional(),
  insecure: z.boolean().optional(),
  token: nonEmpty.optional(),
  tokenFile: nonEmpty.optional(),
  tokenCachePath: nonEmpty.optional(),
  tokenCacheDir: nonEmpty.optional(),
  oidcRefreshActive: z.boolean({ error: 'must be true or false (also yes/no, on/off, 1/0)' }).optional(),
  oidcRefreshBeforeExpMinutes: z.number({ error: 'must be a whole number of minutes' }).int('must be a whole number of minutes').min(0, 'must not be negative').optional(),
  timeoutMs: z.number().int('must be a whole number of milliseconds').positive('must be positive').optional(),
  retries: z.number().int('must be a whole number').min(1, 'must be at least 1').max(20, 'must be at most 20').optional(),
  s3: s3Schema.optional(),
  rseAccounts: z.record(z.string(), s3Schema).optional(),
  s3Checksums: z.enum(['WHEN_REQUIRED', 'WHEN_SUPPORTED']).optional(),
  s3Engine: z.enum(['direct', 'sdk']).optional(),
});

type SettingKey = keyof RucioSettings;

function firstIssue(error: z.ZodError, sources: Record<string, string>): ConfigError {
  const issue = error.issues[0];
  const key = String(issue?.path[0] ?? 'settings');
  const where = sources[key] ?? 'settings';
  const detail = issue?.path.length !== undefined && issue.path.length > 1 ? ` (${issue.path.slice(1).join('.')})` : '';
  const message = issue?.message ?? 'invalid value';
  return new ConfigError(`invalid Rucio setting ${key}${detail} from ${where}: ${message}`);
}

function finish(raw: Record<string, unknown>, sources: Record<string, string>, configFile?: string): RucioConfig {
  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) throw firstIssue(parsed.error, sources);
  const s = parsed.data;
  const authType: AuthType =
    s.authType ??
    (s.token !== undefined || s.tokenFile !== undefined
      ? 'token'
      : s.username !== undefined
        ? 'userpass'
        : s.clientProxy !== undefined && s.clientCert === undefined
          ? 'x509_proxy'
          : s.clientCert !== undefined
            ? 'x509'
            : 'userpass');
  if (authType === 'userpass' && (s.username === undefined || s.password === undefined)) {
    throw new ConfigError(
      `auth type userpass needs username and password (${s.username === undefined ? 'username' : 'password'} is missing); ` +
        'set them in rucio.cfg [client], or choose another auth_type (x509, x509_proxy, token)',
    );
  }
  if (authType === 'x509' && (s.clientCert === undefined || s.clientKey === undefined)) {
    throw new ConfigError(
      'auth type x509 needs client_cert and client_key (rucio.cfg [client] or RUCIO_CLIENT_CERT/RUCIO_CLIENT_KEY)',
    );
  }
  if (authType === 'x509_proxy' && s.clientProxy === undefined) {
    throw new ConfigError(
      'auth type x509_proxy needs a proxy file: set client_x509_proxy in rucio.cfg, RUCIO_CLIENT_PROXY or X509_USER_PROXY',
    );
  }
  const sourcesCopy = { ...sources };
  return Object.freeze({
    ...definedProps({
      username: s.username,
      password: s.password,
      clientCert: s.clientCert,
      clientKey: s.clientKey,
      clientProxy: s.clientProxy,
      caCert: s.caCert,
      token: s.token,
      tokenFile: s.tokenFile,
      tokenCachePath: s.tokenCachePath,
      tokenCacheDir: s.tokenCacheDir,
      s3: s.s3 === undefined ? undefined : definedProps(s.s3),
      configFile,
    }),
    rucioHost: s.rucioHost,
    authHost: s.authHost ?? s.rucioHost,
    authType,
    account: s.account,
    vo: s.vo ?? 'def',
    insecure: s.insecure ?? false,
    oidcRefreshActive: s.oidcRefreshActive ?? false,
    oidcRefreshBeforeExpMinutes: s.oidcRefreshBeforeExpMinutes ?? 20,
    timeoutMs: s.timeoutMs ?? 30_000,
    retries: s.retries ?? 4,
    rseAccounts: Object.fromEntries(
      Object.entries(s.rseAccounts ?? {}).map(([rse, creds]) => [rse, definedProps(creds)]),
    ),
    s3Checksums: s.s3Checksums ?? 'WHEN_REQUIRED',
    s3Engine: s.s3Engine ?? 'direct',
    sources: sourcesCopy,
  });
}

/** A config from explicit values (e.g. the embedded lake's settings), validated. Extra keys are ignored. */
export function rucioConfigFrom(settings: RucioSettings): RucioConfig {
  const sources: Record<string, string> = {};
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(settingsSchema.shape) as SettingKey[]) {
    const value = settings[key];
    if (value !== undefined) {
      raw[key] = value;
      sources[key] = 'explicit settings';
    }
  }
  return finish(raw, sources);
}

/** rucio.cfg `[client]` keys and the setting each one feeds. */
const cfgKeys: Partial<Record<string, SettingKey>> = {
  rucio_host: 'rucioHost',
  auth_host: 'authHost',
  auth_type: 'authType',
  account: 'account',
  vo: 'vo',
  username: 'username',
  password: 'password',
  client_cert: 'clientCert',
  client_key: 'clientKey',
  client_x509_proxy: 'clientProxy',
  ca_cert: 'caCert',
  auth_token_file_path: 'tokenCachePath',
  request_retries: 'retries',
  auth_oidc_refresh_active: 'oidcRefreshActive',
  auth_oidc_refresh_before_exp: 'oidcRefreshBeforeExpMinutes',
};

const numericKeys = new Set<SettingKey>(['retries', 'timeoutMs', 'oidcRefreshBeforeExpMinutes']);
const booleanKeys = new Set<SettingKey>(['oidcRefreshActive']);

/** The words Python's ConfigParser.getboolean (which the official client uses) takes for true and false. */
function cfgBoolean(value: string): boolean | string {
  const word = value.trim().toLowerCase();
  if (['1', 'yes', 'true', 'on'].includes(word)) return true;
  if (['0', 'no', 'false', 'off'].includes(word)) return false;
  return value;
}

/** The rucio.cfg files the official client looks at, in order (`$RUCIO_CONFIG` alone when set). */
export function rucioConfigCandidates(env: NodeJS.ProcessEnv): string[] {
  const explicit = env.RUCIO_CONFIG;
  if (explicit !== undefined && explicit !== '') return [explicit];
  const candidates: string[] = [];
  for (const base of [env.RUCIO_HOME, env.VIRTUAL_ENV, env.CONDA_PREFIX]) {
    if (base !== undefined && base !== '') candidates.push(join(base, 'etc', 'rucio.cfg'));
  }
  candidates.push('/opt/rucio/etc/rucio.cfg');
  return candidates;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read ${path}: ${(error as Error).message}; check its permissions`, { cause: error });
  }
}

/** Parses rse-accounts.cfg: JSON keyed by RSE name, the format Rucio's server-side protocols read. */
function parseRseAccounts(text: string, file: string): Record<string, S3Settings> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${file} is not valid JSON (${(error as Error).message}); it must map RSE names to credentials`);
  }
  const entry = z.object({
    access_key: nonEmpty,
    secret_key: nonEmpty,
    session_token: nonEmpty.optional(),
    region: nonEmpty.optional(),
    endpoint: hostUrl.optional(),
    path_style: z.boolean().optional(),
    is_secure: z.boolean().optional(),
    signature_version: z.string().optional(),
  });
  const parsed = z.record(z.string(), entry).safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      `invalid ${file} entry ${issue?.path.map(String).join('.') ?? ''}: ${issue?.message ?? 'invalid'}; ` +
        'each RSE needs at least access_key and secret_key',
    );
  }
  return Object.fromEntries(
    Object.entries(parsed.data).map(([rse, e]) => [
      rse,
      definedProps({
        accessKeyId: e.access_key,
        secretAccessKey: e.secret_key,
        sessionToken: e.session_token,
        region: e.region,
        endpoint: e.endpoint,
        forcePathStyle: e.path_style,
      }),
    ]),
  );
}

/**
 * Resolves the configuration as the official client would, then applies wavefier's environment
 * variables (RUCIO_HOST, RUCIO_AUTH_HOST) and flags. Precedence: flags > environment > rucio.cfg.
 */
export async function loadRucioConfig(input: {
  flags?: Partial<RucioSettings>;
  env?: NodeJS.ProcessEnv;
}): Promise<RucioConfig> {
  const env = input.env ?? process.env;
  const flags = input.flags ?? {};
  const raw: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const set = (key: SettingKey, value: unknown, source: string): void => {
    if (value === undefined || value === '') return;
    raw[key] =
      typeof value !== 'string'
        ? value
        : numericKeys.has(key) && /^\s*-?\d+\s*$/.test(value)
          ? Number(value)
          : booleanKeys.has(key)
            ? cfgBoolean(value)
            : value;
    sources[key] = source;
  };

  // 1. rucio.cfg (lowest precedence)
  const candidates = rucioConfigCandidates(env);
  let configFile: string | undefined;
  let cfgText: string | undefined;
  for (const candidate of candidates) {
    cfgText = await readOptional(candidate);
    if (cfgText !== undefined) {
      configFile = candidate;
      break;
    }
  }
  if (cfgText === undefined && env.RUCIO_CONFIG !== undefined && env.RUCIO_CONFIG !== '') {
    throw new ConfigError(`RUCIO_CONFIG points to ${env.RUCIO_CONFIG}, which does not exist; fix or unset it`);
  }
  if (cfgText !== undefined && configFile !== undefined) {
    let sections;
    try {
      sections = parseIni(cfgText);
    } catch (error) {
      throw new ConfigError(`cannot parse ${configFile}: ${(error as Error).message}`);
    }
    const client = sections.get('client');
    for (const [key, entry] of client ?? []) {
      const setting = cfgKeys[key];
      if (setting !== undefined) set(setting, entry.value, `${configFile} [client] ${key} (line ${entry.line})`);
    }
    const accountsFile = join(dirname(configFile), 'rse-accounts.cfg');
    const accountsText = await readOptional(accountsFile);
    if (accountsText !== undefined) set('rseAccounts', parseRseAccounts(accountsText, accountsFile), accountsFile);
  }

  // 2. environment, in the official client's order of preference
  const envSet = (key: SettingKey, name: string): void => set(key, env[name], `env ${name}`);
  envSet('rucioHost', 'RUCIO_HOST');
  envSet('authHost', 'RUCIO_AUTH_HOST');
  envSet('account', 'RUCIO_ACCOUNT');
  envSet('vo', 'RUCIO_VO');
  envSet('authType', 'RUCIO_AUTH_TYPE');
  envSet('clientCert', 'RUCIO_CLIENT_CERT');
  envSet('clientKey', 'RUCIO_CLIENT_KEY');
  // wavefier's own: the password of `-u/--user`, which no flag carries (it would show in `ps`).
  envSet('password', 'RUCIO_PASSWORD');
  // Proxy: RUCIO_CLIENT_PROXY > cfg client_x509_proxy > X509_USER_PROXY (baseclient.py order).
  if (raw.clientProxy === undefined) envSet('clientProxy', 'X509_USER_PROXY');
  envSet('clientProxy', 'RUCIO_CLIENT_PROXY');
  envSet('caCert', 'X509_CERT_DIR');
  envSet('token', 'BEARER_TOKEN');
  envSet('tokenFile', 'BEARER_TOKEN_FILE');
  if (raw.s3 === undefined && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    set(
      's3',
      definedProps({
        accessKeyId: env.AWS_ACCESS_KEY_ID,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
        sessionToken: env.AWS_SESSION_TOKEN || undefined,
        region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
        endpoint: env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined,
      }),
      'env AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
    );
  }

  // 3. flags (highest)
  for (const [key, value] of Object.entries(flags)) set(key as SettingKey, value, `flag ${key}`);

  if (raw.rucioHost === undefined) {
    throw new ConfigError(
      configFile === undefined
        ? `no Rucio configuration found (looked for ${candidates.join(', ')}); set RUCIO_HOME or RUCIO_CONFIG, or pass the host`
        : `${configFile} has no [client] rucio_host; add it or set RUCIO_HOST`,
    );
  }
  if (raw.account === undefined) {
    throw new ConfigError(
      `no Rucio account configured${configFile === undefined ? '' : ` in ${configFile}`}; set [client] account or RUCIO_ACCOUNT`,
    );
  }
  return finish(raw, sources, configFile);
}
