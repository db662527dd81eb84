import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ExitCode } from '../../src/common/errors.js';
import { startLake, type Lake } from '../../src/lake/index.js';
import {
  RucioAuthenticationError,
  RucioClient,
  RucioUnavailableError,
  rucioConfigFrom,
  type RucioSettings,
} from '../../src/rucio/index.js';
import { generatePki, type TestPki } from '../fixtures/rucio/pki.js';
import { startX509Server, type X509Server } from '../fixtures/rucio/x509-server.js';

let dir: string;
let pki: TestPki;
let server: X509Server;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rucio-auth-'));
  await mkdir(join(dir, 'pki'));
  pki = generatePki(join(dir, 'pki'));
  server = await startX509Server(pki);
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function x509Client(extra: Partial<RucioSettings>): RucioClient {
  return new RucioClient(
    rucioConfigFrom({ rucioHost: server.url, account: 'root', tokenCacheDir: join(dir, `tokens-${Math.random()}`), ...extra }),
    { retry: { attempts: 2, baseDelayMs: 5 } },
  );
}

describe('x509 authentication (TLS client certificate on /auth/x509)', () => {
  it('authenticates with certificate + key and a CA bundle', async () => {
    const client = x509Client({ authType: 'x509', clientCert: pki.clientCert, clientKey: pki.clientKey, caCert: pki.caCert });
    const before = server.authentications;
    expect((await client.whoami()).account).toBe('root');
    expect(server.authentications - before).toBe(1);
    expect(client.stats.byEndpoint['GET /auth/x509']).toBe(1);
    await client.close();
  });

  it('accepts a CA directory (X509_CERT_DIR) and a proxy file on /auth/x509_proxy', async () => {
    const caDir = join(dir, 'certificates');
    await mkdir(caDir, { recursive: true });
    await copyFile(pki.caCert, join(caDir, 'wavefier-test-ca.pem'));
    const client = x509Client({ authType: 'x509_proxy', clientProxy: pki.proxy, caCert: caDir });
    expect((await client.whoami()).account).toBe('root');
    expect(client.stats.byEndpoint['GET /auth/x509_proxy']).toBe(1);
    await client.close();
  });

  it('verifies the server by default: an unknown CA is a TLS error naming the fix', async () => {
    const client = x509Client({ authType: 'x509', clientCert: pki.clientCert, clientKey: pki.clientKey });
    const error = await client.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RucioUnavailableError);
    expect((error as Error).message).toMatch(/TLS verification of https:\/\/127\.0\.0\.1:\d+ failed; set ca_cert/);
    await client.close();
  });

  it('refuses a certificate from an untrusted CA with an authentication error', async () => {
    const client = x509Client({ authType: 'x509', clientCert: pki.strangerCert, clientKey: pki.strangerKey, caCert: pki.caCert });
    const error = await client.whoami().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RucioAuthenticationError);
    expect((error as Error).message).toMatch(/authenticate account root \(x509\).*CannotAuthenticate/);
    await client.close();
  });

  it('reports an unreadable key file as a configuration error', async () => {
    const client = x509Client({ authType: 'x509', clientCert: pki.clientCert, clientKey: join(dir, 'missing.key'), caCert: pki.caCert });
    await expect(client.whoami()).rejects.toThrow(/cannot read the client key .*missing\.key: ENOENT/);
    await client.close();
  });
});

describe('bearer tokens (WLCG discovery)', () => {
  it('sends a token from BEARER_TOKEN_FILE without calling /auth, and re-reads it after a 401', async () => {
    const file = join(dir, 'bt');
    server.tokens.add('bearer-one');
    await writeFile(file, 'bearer-one\n');
    const client = x509Client({ authType: 'token', tokenFile: file, caCert: pki.caCert });
    expect((await client.whoami()).account).toBe('root');
    expect(client.stats.byEndpoint['GET /auth/x509']).toBeUndefined();
    // The token is revoked and a new one is written (as oidc-agent or htgettoken would).
    server.tokens.delete('bearer-one');
    server.tokens.add('bearer-two');
    await writeFile(file, 'bearer-two\n');
    expect((await client.whoami()).account).toBe('root');
    // Revoked again with no replacement: a clear configuration error, no loop.
    server.tokens.delete('bearer-two');
    const error = await client.whoami().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/rejected the bearer token and no newer one was found/);
    await client.close();
  });
});

describe('token cache and renewal (embedded lake, userpass)', () => {
  let lake: Lake;
  beforeAll(async () => {
    lake = await startLake({ dir: join(dir, 'lake'), quiet: true, tokenLifetimeMs: 4_000 });
  });
  afterAll(async () => {
    await lake.close();
  });
  const lakeClient = (cacheDir: string, extra: Partial<RucioSettings> = {}): RucioClient =>
    new RucioClient(rucioConfigFrom({ ...lake.settings, tokenCacheDir: cacheDir, ...extra }), { retry: { baseDelayMs: 5 } });

  it('caches the token 0600 in a 0700 directory and reuses it from another client', async () => {
    const cacheDir = join(dir, 'shared-cache');
    const first = lakeClient(cacheDir);
    await first.whoami();
    expect(first.stats.byEndpoint['GET /auth/userpass']).toBe(1);
    const path = first.auth.cachePath!;
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
    expect(await readFile(path, 'utf8')).not.toContain(lake.settings.password);
    const second = lakeClient(cacheDir);
    await second.whoami();
    expect(second.stats.byEndpoint['GET /auth/userpass']).toBeUndefined();
    await Promise.all([first.close(), second.close()]);
  });

  it('renews once after a 401 (a revoked or foreign cached token)', async () => {
    const cacheDir = join(dir, 'stale-cache');
    const seed = lakeClient(cacheDir);
    const path = seed.auth.cachePath!;
    await mkdir(cacheDir, { recursive: true, mode: 0o700 });
    await writeFile(path, JSON.stringify({ token: 'root-wavefier-unknown-00000000', obtainedAt: Date.now(), expiresAt: Date.now() + 3_600_000 }), { mode: 0o600 });
    expect((await seed.whoami()).account).toBe('root');
    expect(seed.stats.byEndpoint['GET /auth/userpass']).toBe(1);
    expect(seed.stats.byEndpoint['GET /accounts/whoami']).toBe(2);
    await seed.close();
  });

  it('renews before the announced expiry instead of waiting for a 401', async () => {
    const client = lakeClient(join(dir, 'short-cache'));
    await client.whoami();
    expect(client.stats.byEndpoint['GET /auth/userpass']).toBe(1);
    await sleep(3_300);
    await client.whoami();
    expect(client.stats.byEndpoint['GET /auth/userpass']).toBe(2);
    // No request was refused on the way: each whoami went out exactly once.
    expect(client.stats.byEndpoint['GET /accounts/whoami']).toBe(2);
    await client.close();
  });

  it('a wrong password fails with exit code 2 and no secret in the message', async () => {
    const client = lakeClient(join(dir, 'bad-cache'), { password: 'not-the-password' });
    const error = await client.whoami().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RucioAuthenticationError);
    expect((error as RucioAuthenticationError).exitCode).toBe(ExitCode.usage);
    expect((error as Error).message).not.toContain('not-the-password');
    await client.close();
  });
});
