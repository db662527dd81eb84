import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { ConfigError } from '../common/errors.js';
import type { RucioConfig } from './config.js';
import { failureFrom, headerValue, rucioErrorFor } from './errors.js';
import type { HttpTransport } from './http.js';
import { defaultTokenCacheDir, TokenCache, tokenCachePath, type CachedToken } from './token-cache.js';
import {
  jwtExpiry,
  officialRefreshDue,
  officialTokenFiles,
  readOfficialToken,
  writeOfficialToken,
  type OfficialToken,
  type OfficialTokenFiles,
} from './token-cache-official.js';

export { jwtExpiry } from './token-cache-official.js';

/** Renew once this fraction of the lifetime has passed. */
const renewAtFraction = 0.8;
/** Never send a token with less than this left. */
const safetyMarginMs = 2_000;
/** oidc: how long a token read from the official client's cache is used before the cache is read again. */
const officialRecheckMs = 10_000;

export function parseTokenExpiry(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined || header === '') return undefined;
  const ms = Date.parse(header.replace(/\s+UTC$/, ' GMT'));
  if (!Number.isFinite(ms) || ms <= now) return undefined;
  return ms;
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
  /** oidc: the official client's token cache for this account and VO. */
  private readonly official: OfficialTokenFiles | undefined;
  /** When the official cache was last looked at (oidc): a token near its end is not re-read on every request. */
  private officialCheckedAt = 0;
  /** Why the last renewal at the auth server failed (oidc), for the message when the token then runs out. */
  private lastRefreshFailure: string | undefined;
  private source: string | undefined;
  /** Count of tokens obtained from the auth server by this process (tests, doctor). */
  authentications = 0;
  /** Count of the official client's tokens renewed at the auth server (oidc). */
  officialRefreshes = 0;

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
    if (config.authType === 'oidc') {
      this.official = officialTokenFiles({ account: config.account, vo: config.vo, tokenFilePath: config.tokenCachePath, env: deps.env });
    }
  }

  /** Where the token of auth type token/oidc came from, once one was taken (doctor says it). */
  get tokenSource(): string | undefined {
    return this.source;
  }

  get cachePath(): string | undefined {
    return this.cache?.path ?? this.official?.tokenFile;
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
    if (this.official !== undefined) {
      const cached = await this.officialToken(this.official, rejected);
      if (cached !== undefined) {
        this.source = `the official Rucio client's token cache ${this.official.tokenFile}`;
        return cached;
      }
    }
    const discovered = await discoverBearerToken(this.config, this.deps.env);
    if (discovered === undefined) {
      throw new ConfigError(
        this.official === undefined
          ? 'auth type token needs a bearer token: set BEARER_TOKEN, BEARER_TOKEN_FILE, or put it in $XDG_RUNTIME_DIR/bt_u<uid> or /tmp/bt_u<uid>'
          : `auth type oidc uses a token you already have, and there is none: the official Rucio client has no token for account ${this.config.account}` +
              `${this.config.vo === 'def' ? '' : ` in VO ${this.config.vo}`} (no ${this.official.tokenFile}) and no bearer token was found ` +
              '(--bearer-token-file, BEARER_TOKEN, BEARER_TOKEN_FILE, $XDG_RUNTIME_DIR/bt_u<uid>, /tmp/bt_u<uid>); ' +
              `log in with the official client (${this.loginHint()}) or get a token (e.g. oidc-token) into a file, then retry`,
      );
    }
    this.source = `the bearer token of ${discovered.from}`;
    if (discovered.token === rejected) {
      throw new ConfigError(
        'the Rucio server rejected the bearer token and no newer one was found; refresh it (e.g. oidc-token or htgettoken) and retry',
      );
    }
    return { token: discovered.token, expiresAt: jwtExpiry(discovered.token), obtainedAt: Date.now() };
  }

  /**
   * The official client's cached token (oidc), renewed at the auth server first when the client
   * would renew it (`auth_oidc_refresh_active`, within `auth_oidc_refresh_before_exp` minutes of
   * its end). Undefined when the client has no token for this account and VO. A token the server
   * refused (`rejected`) or one past its known end is a ConfigError saying which file, when, and
   * what to run: wavefier cannot log in through a browser as the client would.
   */
  private async officialToken(files: OfficialTokenFiles, rejected?: string): Promise<CachedToken | undefined> {
    const now = Date.now();
    const current = this.current;
    if (rejected === undefined && current !== undefined && now - this.officialCheckedAt < officialRecheckMs) {
      if (current.expiresAt === undefined || current.expiresAt > now) return current;
    }
    let entry = await readOfficialToken(files);
    this.officialCheckedAt = now;
    if (entry === undefined) return undefined;
    if (this.config.oidcRefreshActive && entry.token !== rejected && officialRefreshDue(entry, this.config.oidcRefreshBeforeExpMinutes, now)) {
      entry = (await this.refreshOfficial(files, entry)) ?? entry;
    }
    if (entry.token === rejected || (entry.expiresAt !== undefined && entry.expiresAt <= Date.now())) {
      throw new ConfigError(this.officialTokenUnusable(files, entry, entry.token === rejected));
    }
    return { token: entry.token, expiresAt: entry.expiresAt, obtainedAt: entry.writtenAt };
  }

  /** GET /auth/oidc_refresh with the current token, as the official client renews an OIDC token; undefined when it gave none. */
  private async refreshOfficial(files: OfficialTokenFiles, entry: OfficialToken): Promise<OfficialToken | undefined> {
    const { config } = this;
    const operation = `renew the OIDC token of account ${config.account} at ${config.authHost}`;
    try {
      const response = await this.deps.transport.request({
        method: 'GET',
        url: `${config.authHost}/auth/oidc_refresh`,
        headers: {
          'X-Rucio-Account': config.account,
          'X-Rucio-VO': config.vo,
          'X-Rucio-Auth-Token': entry.token,
          'X-Rucio-AppID': 'wavefier',
          'User-Agent': this.deps.userAgent,
          Accept: 'application/octet-stream',
        },
        endpoint: 'GET /auth/oidc_refresh',
        operation,
        idempotent: true,
        dispatcher: await this.deps.authDispatcher(),
      });
      const text = response.body ? await response.body.text() : '';
      if (response.status !== 200) {
        const failure = failureFrom(operation, undefined, response.status, response.headers, text);
        this.lastRefreshFailure = `${config.authHost} answered ${response.status}${failure.exceptionClass === undefined ? '' : ` ${failure.exceptionClass}`}${failure.exceptionMessage === undefined ? '' : `: ${failure.exceptionMessage}`}`;
        return undefined;
      }
      const token = headerValue(response.headers, 'X-Rucio-Auth-Token') ?? '';
      const expires = headerValue(response.headers, 'X-Rucio-Auth-Token-Expires') ?? '';
      // Empty answers: the server keeps no refresh token for this token (e.g. not an OIDC login).
      if (token === '' || !/^\d+$/.test(expires)) {
        this.lastRefreshFailure = `${config.authHost} has no refresh token for it (it renews only tokens of an OIDC login with offline access)`;
        return undefined;
      }
      await writeOfficialToken(files, token, Number(expires));
      this.officialRefreshes++;
      this.lastRefreshFailure = undefined;
      const written = await readOfficialToken(files);
      return written?.token === token ? written : { ...entry, token, expiresAt: Number(expires) * 1000, expiryFileEpochMs: Number(expires) * 1000, expirySource: 'expiry file' };
    } catch (error) {
      // As the client: a failed renewal leaves the current token in use while it lasts.
      this.lastRefreshFailure = `${operation}: ${(error as Error).message}`;
      return undefined;
    }
  }

  private loginHint(): string {
    const vo = this.config.vo === 'def' ? '' : ` --vo ${this.config.vo}`;
    return `\`rucio -S oidc -a ${this.config.account}${vo} whoami\``;
  }

  private officialTokenUnusable(files: OfficialTokenFiles, entry: OfficialToken, refused: boolean): string {
    const { config } = this;
    const when = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const whose = `account ${config.account}${config.vo === 'def' ? '' : `, VO ${config.vo}`}`;
    const expiry =
      entry.expiresAt === undefined
        ? refused
          ? `it has expired or was revoked (written ${when(entry.writtenAt)}; the file says no expiry)`
          : ''
        : entry.expiresAt <= Date.now()
          ? `it expired at ${when(entry.expiresAt)} (${entry.expirySource === 'expiry file' ? files.expiryFile : 'its exp claim'})`
          : `it was revoked (it would have expired at ${when(entry.expiresAt)})`;
    const renewal = this.lastRefreshFailure === undefined ? '' : `; renewing it failed: ${this.lastRefreshFailure}`;
    return (
      `${refused ? `the Rucio server at ${config.rucioHost} refused the token` : 'the token'} read from ${files.tokenFile} ` +
      `(the official Rucio client's token cache, ${whose}): ${expiry}${renewal}; ` +
      `log in again with the official client (e.g. ${this.loginHint()}), which rewrites that file, ` +
      'or remove the file and give a token with --bearer-token-file (e.g. from oidc-token), then retry'
    );
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
async function discoverBearerToken(config: RucioConfig, env: NodeJS.ProcessEnv): Promise<{ token: string; from: string } | undefined> {
  if (config.token !== undefined) return { token: config.token.trim(), from: config.sources.token ?? 'settings' };
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const files = [
    config.tokenFile,
    uid === undefined || env.XDG_RUNTIME_DIR === undefined ? undefined : join(env.XDG_RUNTIME_DIR, `bt_u${uid}`),
    uid === undefined ? undefined : `/tmp/bt_u${uid}`,
  ].filter((f): f is string => f !== undefined);
  for (const file of files) {
    try {
      const text = (await readFile(file, 'utf8')).trim();
      if (text !== '') return { token: text, from: file };
    } catch {
      // not there: try the next place
    }
  }
  return undefined;
}
