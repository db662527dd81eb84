import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { ConfigError } from '../common/errors.js';
import type { RucioConfig } from './config.js';
import { failureFrom, headerValue, rucioErrorFor } from './errors.js';
import type { HttpTransport } from './http.js';
import { defaultTokenCacheDir, TokenCache, tokenCachePath, type CachedToken } from './token-cache.js';

/** Renew once this fraction of the lifetime has passed. */
const renewAtFraction = 0.8;
/** Never send a token with less than this left. */
const safetyMarginMs = 2_000;

export function parseTokenExpiry(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined || header === '') return undefined;
  const ms = Date.parse(header.replace(/\s+UTC$/, ' GMT'));
  if (!Number.isFinite(ms) || ms <= now) return undefined;
  return ms;
}

/** Expiry of a JWT from its `exp` claim, without verifying it (the server does that). */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export function needsRenewal(entry: CachedToken, now = Date.now()): 'fresh' | 'renew-soon' | 'expired' {
  if (entry.expiresAt === undefined) return 'fresh';
  if (entry.expiresAt - now < safetyMarginMs) return 'expired';
  const lifetime = entry.expiresAt - entry.obtainedAt;
  if (lifetime > 0 && now >= entry.obtainedAt + renewAtFraction * lifetime) return 'renew-soon';
  return 'fresh';
}

export interface AuthDeps {
  transport: HttpTransport;
  /** Dispatcher for the auth host: custom CA, and the TLS client certificate for x509. */
  authDispatcher: () => Promise<Dispatcher>;
  userAgent: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Obtains and keeps a valid Rucio token: from memory, else the shared disk cache, else the auth
 * server (userpass, x509 certificate + key, x509 proxy) or a bearer token (WLCG discovery). Renews
 * proactively at 80% of the lifetime the server announced in X-Rucio-Auth-Token-Expires (in the
 * background while the old token is still good), and on demand after a 401. One renewal at a time.
 */
export class TokenManager {
  private current: CachedToken | undefined;
  private renewing: Promise<CachedToken> | undefined;
  private readonly cache: TokenCache | undefined;
  /** Count of tokens obtained from the auth server by this process (tests, doctor). */
  authentications = 0;

  constructor(
    private readonly config: RucioConfig,
    private readonly deps: AuthDeps,
  ) {
    if (config.authType !== 'token' && config.authType !== 'oidc') {
      const identity =
        config.authType === 'userpass'
          ? (config.username ?? '')
          : config.authType === 'x509'
            ? (config.clientCert ?? '')
            : (config.clientProxy ?? '');
      const path =
        config.tokenCachePath ??
        tokenCachePath(config.tokenCacheDir ?? defaultTokenCacheDir(), {
          account: config.account,
          vo: config.vo,
          authHost: config.authHost,
          authType: config.authType,
          identity,
        });
      this.cache = new TokenCache(path);
    }
  }

  get cachePath(): string | undefined {
    return this.cache?.path;
  }

  /** A token good for the next request. */
  async token(): Promise<string> {
    if (this.current === undefined && this.cache !== undefined) this.current = await this.cache.read();
    const state = this.current === undefined ? 'expired' : needsRenewal(this.current);
    if (state === 'fresh' && this.current !== undefined) return this.current.token;
    if (state === 'renew-soon' && this.current !== undefined) {
      // Keep working with the still-valid token; a failed background renewal is retried next time.
      this.renewInBackground();
      return this.current.token;
    }
    return (await this.renew()).token;
  }

  /** A new login now, ignoring any cached token: proves the configured credentials work (doctor). */
  async authenticate(): Promise<void> {
    if (this.config.authType === 'token' || this.config.authType === 'oidc') {
      this.current = await this.bearer();
      return;
    }
    this.current = await this.login();
    if (this.cache !== undefined) await this.cache.write(this.current);
  }

  /** Called after a 401 with `token`: drop it (unless someone already replaced it) and get a new one. */
  async invalidate(token: string): Promise<string> {
    if (this.current !== undefined && this.current.token !== token) return this.current.token;
    this.current = undefined;
    return (await this.renew(token)).token;
  }

  private renewInBackground(): void {
    this.renew().catch(() => undefined);
  }

  private renew(rejected?: string): Promise<CachedToken> {
    this.renewing ??= this.obtain(rejected).finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private async obtain(rejected?: string): Promise<CachedToken> {
    // Another process may have renewed already: prefer its token over a new login.
    if (this.cache !== undefined) {
      const shared = await this.cache.read();
      if (shared !== undefined && shared.token !== rejected && shared.token !== this.current?.token) {
        if (needsRenewal(shared) === 'fresh') {
          this.current = shared;
          return shared;
        }
      }
    }
    const fresh =
      this.config.authType === 'token' || this.config.authType === 'oidc' ? await this.bearer(rejected) : await this.login();
    this.current = fresh;
    if (this.cache !== undefined) await this.cache.write(fresh);
    return fresh;
  }

  private async bearer(rejected?: string): Promise<CachedToken> {
    const discovered = await discoverBearerToken(this.config, this.deps.env);
    if (discovered === undefined) {
      throw new ConfigError(
        'auth type token needs a bearer token: set BEARER_TOKEN, BEARER_TOKEN_FILE, or put it in $XDG_RUNTIME_DIR/bt_u<uid> or /tmp/bt_u<uid>',
      );
    }
    if (discovered === rejected) {
      throw new ConfigError(
        'the Rucio server rejected the bearer token and no newer one was found; refresh it (e.g. oidc-token or htgettoken) and retry',
      );
    }
    return { token: discovered, expiresAt: jwtExpiry(discovered), obtainedAt: Date.now() };
  }

  private async login(): Promise<CachedToken> {
    const { config } = this;
    const headers: Record<string, string> = {
      'X-Rucio-Account': config.account,
      'X-Rucio-VO': config.vo,
      'X-Rucio-AppID': 'wavefier',
      'User-Agent': this.deps.userAgent,
      Accept: '*/*',
    };
    let path: string;
    const dispatcher = await this.deps.authDispatcher();
    if (config.authType === 'userpass') {
      path = '/auth/userpass';
      headers['X-Rucio-Username'] = config.username ?? '';
      headers['X-Rucio-Password'] = config.password ?? '';
    } else {
      path = config.authType === 'x509_proxy' ? '/auth/x509_proxy' : '/auth/x509';
    }
    const operation = `authenticate account ${config.account} (${config.authType}) at ${config.authHost}`;
    const started = Date.now();
    const response = await this.deps.transport.request({
      method: 'GET',
      url: `${config.authHost}${path}`,
      headers,
      endpoint: `GET ${path}`,
      operation,
      idempotent: true,
      dispatcher,
    });
    const text = response.body ? await response.body.text() : '';
    if (response.status === 206) {
      throw new ConfigError(
        `${operation}: the identity maps to several accounts (${headerValue(response.headers, 'X-Rucio-Auth-Accounts') ?? text}); set the account explicitly`,
      );
    }
    const token = headerValue(response.headers, 'X-Rucio-Auth-Token');
    if (response.status !== 200 || token === undefined || token === '') {
      throw rucioErrorFor(failureFrom(operation, undefined, response.status, response.headers, text));
    }
    this.authentications++;
    return { token, expiresAt: parseTokenExpiry(headerValue(response.headers, 'X-Rucio-Auth-Token-Expires')), obtainedAt: started };
  }
}

/** WLCG bearer token discovery: BEARER_TOKEN, BEARER_TOKEN_FILE, $XDG_RUNTIME_DIR/bt_u<uid>, /tmp/bt_u<uid>. */
async function discoverBearerToken(config: RucioConfig, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (config.token !== undefined) return config.token.trim();
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const files = [
    config.tokenFile,
    uid === undefined || env.XDG_RUNTIME_DIR === undefined ? undefined : join(env.XDG_RUNTIME_DIR, `bt_u${uid}`),
    uid === undefined ? undefined : `/tmp/bt_u${uid}`,
  ].filter((f): f is string => f !== undefined);
  for (const file of files) {
    try {
      const text = (await readFile(file, 'utf8')).trim();
      if (text !== '') return text;
    } catch {
      // not there: try the next place
    }
  }
  return undefined;
}
