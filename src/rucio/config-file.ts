import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { definedProps } from '../common/defined.js';
import { ConfigError } from '../common/errors.js';
import { hostUrl, nonEmpty, type RawSettings, type SettingKey } from './config-schema.js';
import type { S3Settings } from './config-types.js';
import { parseIni } from './ini.js';

/**
 * The files the official client reads its settings from: the first rucio.cfg found (its `[client]`
 * section) and rse-accounts.cfg beside it.
 */

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
 * Reads the first rucio.cfg of the candidates (and rse-accounts.cfg beside it) into `settings`.
 * Returns the file read, if any, and the candidates looked at.
 */
export async function readRucioCfg(env: NodeJS.ProcessEnv, settings: RawSettings): Promise<{ configFile: string | undefined; candidates: string[] }> {
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
      if (setting !== undefined) settings.set(setting, entry.value, `${configFile} [client] ${key} (line ${entry.line})`);
    }
    const accountsFile = join(dirname(configFile), 'rse-accounts.cfg');
    const accountsText = await readOptional(accountsFile);
    if (accountsText !== undefined) settings.set('rseAccounts', parseRseAccounts(accountsText, accountsFile), accountsFile);
  }
  return { configFile, candidates };
}
