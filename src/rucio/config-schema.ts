import { z } from 'zod';
import { definedProps } from '../common/defined.js';
import { ConfigError } from '../common/errors.js';
import { authTypes, type AuthType } from './auth-types.js';
import type { RucioConfig, RucioSettings } from './config-types.js';

/**
 * Validation of the Rucio connection settings, whatever their source: one zod schema, the auth
 * type inferred when none is given, the credentials each auth type needs, and the defaults.
 */

export const hostUrl = z
  .string()
  .trim()
  .refine((value) => /^https?:\/\/[^/\s]+/.test(value) && URL.canParse(value), {
    error: 'must be an http:// or https:// URL, e.g. https://rucio.example.org:443',
  })
  .transform((value) => value.replace(/\/+$/, ''));

export const nonEmpty = z.string().trim().min(1, 'must not be empty');

const s3Schema = z.object({
  accessKeyId: nonEmpty,
  secretAccessKey: nonEmpty,
  sessionToken: nonEmpty.optional(),
  region: nonEmpty.optional(),
  endpoint: hostUrl.optional(),
  forcePathStyle: z.boolean().optional(),
});

export const settingsSchema = z.object({
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

export type SettingKey = keyof RucioSettings;

const numericKeys = new Set<SettingKey>(['retries', 'timeoutMs', 'oidcRefreshBeforeExpMinutes']);
const booleanKeys = new Set<SettingKey>(['oidcRefreshActive']);

/** The words Python's ConfigParser.getboolean (which the official client uses) takes for true and false. */
function cfgBoolean(value: string): boolean | string {
  const word = value.trim().toLowerCase();
  if (['1', 'yes', 'true', 'on'].includes(word)) return true;
  if (['0', 'no', 'false', 'off'].includes(word)) return false;
  return value;
}

/**
 * Settings gathered from the sources in increasing precedence, each with where it came from: a
 * later `set` overrides an earlier one. Text of numeric and boolean settings (rucio.cfg, the
 * environment) is converted here; what cannot be converted stays text for the schema to reject.
 */
export class RawSettings {
  readonly values: Record<string, unknown> = {};
  readonly sources: Record<string, string> = {};

  set(key: SettingKey, value: unknown, source: string): void {
    if (value === undefined || value === '') return;
    this.values[key] =
      typeof value !== 'string'
        ? value
        : numericKeys.has(key) && /^\s*-?\d+\s*$/.test(value)
          ? Number(value)
          : booleanKeys.has(key)
            ? cfgBoolean(value)
            : value;
    this.sources[key] = source;
  }

  has(key: SettingKey): boolean {
    return this.values[key] !== undefined;
  }
}

function firstIssue(error: z.ZodError, sources: Record<string, string>): ConfigError {
  const issue = error.issues[0];
  const key = String(issue?.path[0] ?? 'settings');
  const where = sources[key] ?? 'settings';
  const detail = issue?.path.length !== undefined && issue.path.length > 1 ? ` (${issue.path.slice(1).join('.')})` : '';
  const message = issue?.message ?? 'invalid value';
  return new ConfigError(`invalid Rucio setting ${key}${detail} from ${where}: ${message}`);
}

/** The validated configuration of gathered settings (defaults applied), or a ConfigError naming the source of the first bad value. */
export function validatedConfig(raw: Record<string, unknown>, sources: Record<string, string>, configFile?: string): RucioConfig {
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
  return validatedConfig(raw, sources);
}
