import type { AuthType } from './auth-types.js';

/** The shapes of Rucio connection settings: what callers give, and the validated result. */

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
