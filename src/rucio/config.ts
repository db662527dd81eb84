import { ConfigError } from '../common/errors.js';
import { applyEnvironment } from './config-env.js';
import { readRucioCfg } from './config-file.js';
import { RawSettings, validatedConfig, type SettingKey } from './config-schema.js';
import type { RucioConfig, RucioSettings } from './config-types.js';

/**
 * Connection settings for a Rucio deployment, resolved the way the official client does
 * (rucio.cfg `[client]` + the RUCIO_* variables it honours) with wavefier's flags on top:
 * flags > environment > rucio.cfg. Everything is validated once, in config-schema.ts.
 */

export type { RucioConfig, RucioSettings, S3Settings } from './config-types.js';
export { rucioConfigFrom } from './config-schema.js';
export { rucioConfigCandidates } from './config-file.js';

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
  const settings = new RawSettings();
  // 1. rucio.cfg (lowest precedence)
  const { configFile, candidates } = await readRucioCfg(env, settings);
  // 2. environment, in the official client's order of preference
  applyEnvironment(env, settings);
  // 3. flags (highest)
  for (const [key, value] of Object.entries(flags)) settings.set(key as SettingKey, value, `flag ${key}`);

  if (!settings.has('rucioHost')) {
    throw new ConfigError(
      configFile === undefined
        ? `no Rucio configuration found (looked for ${candidates.join(', ')}); set RUCIO_HOME or RUCIO_CONFIG, or pass the host`
        : `${configFile} has no [client] rucio_host; add it or set RUCIO_HOST`,
    );
  }
  if (!settings.has('account')) {
    throw new ConfigError(
      `no Rucio account configured${configFile === undefined ? '' : ` in ${configFile}`}; set [client] account or RUCIO_ACCOUNT`,
    );
  }
  return validatedConfig(settings.values, settings.sources, configFile);
}
