import { definedProps } from '../common/defined.js';
import type { RawSettings, SettingKey } from './config-schema.js';

/**
 * The environment variables the official client honours, in its order of preference, plus
 * wavefier's own (RUCIO_HOST, RUCIO_AUTH_HOST, RUCIO_PASSWORD) and the standard AWS ones; applied
 * over what rucio.cfg gave.
 */
export function applyEnvironment(env: NodeJS.ProcessEnv, settings: RawSettings): void {
  const envSet = (key: SettingKey, name: string): void => settings.set(key, env[name], `env ${name}`);
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
  if (!settings.has('clientProxy')) envSet('clientProxy', 'X509_USER_PROXY');
  envSet('clientProxy', 'RUCIO_CLIENT_PROXY');
  envSet('caCert', 'X509_CERT_DIR');
  envSet('token', 'BEARER_TOKEN');
  envSet('tokenFile', 'BEARER_TOKEN_FILE');
  if (!settings.has('s3') && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    settings.set(
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
}
