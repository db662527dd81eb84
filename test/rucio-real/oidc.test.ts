/**
 * `--auth-type oidc` / `-S oidc` against a real Rucio 1.31.7 server: wavefier uses the token the
 * official client cached for the account (a Rucio token is a token whatever way it was got; the kit
 * has no identity provider, so the official client logs in with userpass here), renews it as that
 * client does, and says which file, when and what to run once the token is no longer good.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { newRunId } from '../../src/common/run-id.js';
import { runCli } from '../helpers/cli.js';
import { realRucioForFile, run } from './peer.js';

const real = realRucioForFile();

/** Runs SQL on the peer's own SQLite database (the server's state, as an OIDC login would have left it). */
async function sql(statement: string, ...params: string[]): Promise<string> {
  const script =
    'import sqlite3, sys\n' +
    'db = sqlite3.connect(sys.argv[1], timeout=30)\n' +
    'rows = db.execute(sys.argv[2], sys.argv[3:]).fetchall()\n' +
    'db.commit()\n' +
    'print("\\n".join("|".join(str(v) for v in row) for row in rows))\n';
  const result = await run('/usr/bin/python3', ['-c', script, join(real().info.dir, 'rucio.db'), statement, ...params]);
  if (result.code !== 0) throw new Error(`sql ${statement}: ${result.stderr}`);
  return result.stdout.trim();
}

const tokenCount = async (): Promise<number> => Number(await sql('SELECT count(*) FROM tokens'));

let cacheDir: string;
let tokenFile: string;
let expiryFile: string;
let env: NodeJS.ProcessEnv;
let refreshEnv: NodeJS.ProcessEnv;

/** A new token of the server, as any login gets one. */
async function userpassLogin(): Promise<string> {
  const login = await fetch(`${real().info.host}/auth/userpass`, { headers: { 'X-Rucio-Account': 'root', 'X-Rucio-Username': 'ddmlab', 'X-Rucio-Password': 'secret' } });
  const token = login.headers.get('X-Rucio-Auth-Token') ?? '';
  expect(login.status).toBe(200);
  expect(token).not.toBe('');
  return token;
}

/** The official client logs in again (its token is not good any more) and rewrites its cache. */
async function officialLogin(): Promise<string> {
  await real().rucioOk(['whoami']);
  return readFile(tokenFile, 'utf8');
}

beforeAll(async () => {
  // The official client logs in and caches its token under the temp dir of `peer rucio` (TMPDIR=state/tmp).
  await real().rucioOk(['whoami']);
  const tmp = join(real().info.dir, 'tmp');
  const [user] = await readdir(tmp);
  cacheDir = join(tmp, user ?? '', `.rucio_${user ?? ''}`);
  tokenFile = join(cacheDir, 'auth_token_for_account_root');
  expiryFile = join(cacheDir, 'auth_token_exp_for_account_root');
  expect((await stat(tokenFile)).isFile()).toBe(true);
  // The same server and account, no username, no password, no auth_type: only -S oidc on the command line.
  const host = real().info.host;
  const plain = join(real().dir, 'oidc.cfg');
  await writeFile(plain, `[client]\nrucio_host = ${host}\nauth_host = ${host}\naccount = root\n`);
  const refreshing = join(real().dir, 'oidc-refresh.cfg');
  await writeFile(refreshing, `[client]\nrucio_host = ${host}\nauth_host = ${host}\naccount = root\nauth_oidc_refresh_active = true\n`);
  env = { RUCIO_CONFIG: plain, TMPDIR: tmp, RUCIO_PASSWORD: '' };
  refreshEnv = { ...env, RUCIO_CONFIG: refreshing };
}, 60_000);

describe('-S oidc with the official client token cache on a real Rucio server', { timeout: 180_000 }, () => {
  it('doctor --auth-type oidc authenticates with the cached token, logs in nowhere, and writes a probe', async () => {
    const cached = await readFile(tokenFile, 'utf8');
    const tokens = await tokenCount();
    const doctor = await runCli(['doctor', '--auth-type', 'oidc', '--rse', 'LOCAL_POSIX'], { env });
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    expect(doctor.stdout).toMatch(/^ok\s+config .*auth oidc/m);
    expect(doctor.stdout).toContain(`authenticated as root (oidc at ${real().info.host}, with the official Rucio client's token cache ${tokenFile})`);
    expect(doctor.stdout).toMatch(/^ok\s+rse\s+LOCAL_POSIX: wrote, read back and deleted a probe/m);
    expect(await tokenCount()).toBe(tokens);
    expect(await readFile(tokenFile, 'utf8')).toBe(cached);
  });

  it('upload and download -S oidc (workers included) run on the cached token alone', async () => {
    const tokens = await tokenCount();
    const dataset = `oidc-${newRunId()}`;
    const logs = join(real().dir, 'logs');
    const upload = await runCli(
      ['--json', 'upload', '-S', 'oidc', '--source', 'synthetic', '--rse', 'LOCAL_POSIX', '--count', '4', '--as-fast-as-possible', '--close-dataset', '--dataset', dataset, '--log-dir', logs],
      { env },
    );
    expect(upload.code, upload.stderr).toBe(0);
    expect(JSON.parse(upload.stdout.trim().split('\n').at(-1) ?? '')).toMatchObject({ uploaded: 4 });
    const download = await runCli(['--json', 'download', '-S', 'oidc', '--dataset', dataset, '--dir', join(real().dir, 'down'), '--until-closed', '--workers', '2', '--log-dir', logs], { env });
    expect(download.code, download.stderr).toBe(0);
    expect(JSON.parse(download.stdout.trim().split('\n').at(-1) ?? '')).toMatchObject({ verified: 4, corrupted: 0 });
    // Nobody logged in: every request of both runs and their workers carried the official client's token.
    expect(await tokenCount()).toBe(tokens);
    const listed = await real().rucioOk(['list-files', `wavefier:${dataset}`]);
    expect(listed).toMatch(/Total files : 4/);
  });

  it('a token the server no longer accepts: which file, that it expired, what to run; exit 2', async () => {
    // A token that ran out while cached: made expired in the server's database before the server
    // ever saw it used (it keeps tokens it validated in memory for 15 minutes).
    const token = await userpassLogin();
    await sql("UPDATE tokens SET expired_at = '2020-01-01 00:00:00' WHERE token = ?", token);
    await writeFile(tokenFile, token);
    const download = await runCli(['download', '-S', 'oidc', 'wavefier:never-mind', '--dir', join(real().dir, 'down')], { env });
    expect(download.code).toBe(2);
    const line = download.stderr.trim();
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toContain(`the Rucio server at ${real().info.host} refused the token read from ${tokenFile} (the official Rucio client's token cache, account root)`);
    expect(line).toMatch(/it has expired or was revoked/);
    expect(line).toContain('`rucio -S oidc -a root whoami`');
    expect(line).not.toContain(token);
    const doctor = await runCli(['doctor', '-S', 'oidc'], { env });
    expect(doctor.code).toBe(2);
    expect(doctor.stdout).toMatch(/^FAIL\s+authentication the Rucio server .* refused the token read from /m);
    expect(doctor.stdout).toMatch(/^\s+fix: log in again with the official client \(rucio -S oidc whoami\)/m);

    // What the message says to do works: the official client logs in again, and wavefier follows.
    expect(await officialLogin()).not.toBe(token);
    const again = await runCli(['doctor', '-S', 'oidc'], { env });
    expect(again.code, again.stdout).toBe(0);
  });

  it('a garbled cache: the server refuses it, or it is no token at all; exit 2 either way', async () => {
    const good = await readFile(tokenFile, 'utf8');
    try {
      await writeFile(tokenFile, 'root-ddmlab-unknown-00000000000000000000000000000000');
      const refused = await runCli(['upload', '-S', 'oidc', '--source', 'synthetic', '--rse', 'LOCAL_POSIX', '--count', '1', '--as-fast-as-possible', '--log-dir', join(real().dir, 'logs')], { env });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`refused the token read from ${tokenFile}`);
      expect(refused.stderr).toMatch(/written \d{4}-\d\d-\d\dT[\d:]+Z; the file says no expiry/);

      await writeFile(tokenFile, '\u0000\u0001 garbage \u00ff\n');
      const garbled = await runCli(['download', '-S', 'oidc', 'wavefier:never-mind', '--dir', join(real().dir, 'down')], { env });
      expect(garbled.code).toBe(2);
      expect(garbled.stderr.trim()).toBe(
        `wavefier: error: ${tokenFile} (the official Rucio client's token cache) does not hold a token (it has characters no token has); ` +
          'remove it and log in again with the official client (e.g. `rucio -S oidc whoami`)',
      );
    } finally {
      await writeFile(tokenFile, good);
    }
  });

  it('an expiry past, as an OIDC login records it beside the token: said with the time and the file that says so', async () => {
    const good = await readFile(tokenFile, 'utf8');
    const expiredAt = Math.floor(Date.now() / 1000) - 120;
    await writeFile(expiryFile, String(expiredAt));
    try {
      const tokens = await tokenCount();
      const download = await runCli(['download', '-S', 'oidc', 'wavefier:never-mind', '--dir', join(real().dir, 'down')], { env });
      expect(download.code).toBe(2);
      const when = new Date(expiredAt * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      expect(download.stderr).toContain(`the token read from ${tokenFile} (the official Rucio client's token cache, account root): it expired at ${when} (${expiryFile})`);
      expect(await tokenCount()).toBe(tokens);
    } finally {
      await run('rm', ['-f', expiryFile]);
      await writeFile(tokenFile, good);
    }
  });

  it('auth_oidc_refresh_active: a token without a refresh token on the server stays in use', async () => {
    const cached = await readFile(tokenFile, 'utf8');
    const doctor = await runCli(['doctor', '-S', 'oidc'], { env: refreshEnv });
    expect(doctor.code, doctor.stdout).toBe(0);
    expect(await readFile(tokenFile, 'utf8')).toBe(cached);
    await expect(stat(expiryFile)).rejects.toThrow(/ENOENT/);
  });

  it('auth_oidc_refresh_active: renewed at /auth/oidc_refresh as the client does, both files rewritten, the client reads them', async () => {
    const cached = await readFile(tokenFile, 'utf8');
    // The state an OIDC login with offline access leaves: the cached token has a refresh token, and the
    // server holds a refreshed token for the account (the kit has no identity provider to ask for one).
    const refreshed = await userpassLogin();
    await sql("UPDATE tokens SET refresh_token = 'refresh-token-of-an-oidc-login' WHERE token = ?", cached);
    await sql('UPDATE tokens SET refresh = 1, refresh_expired_at = expired_at WHERE token = ?', refreshed);
    const expires = await sql("SELECT strftime('%s', expired_at) FROM tokens WHERE token = ?", refreshed);

    const doctor = await runCli(['doctor', '-S', 'oidc', '--rse', 'LOCAL_POSIX'], { env: refreshEnv });
    expect(doctor.code, doctor.stdout).toBe(0);
    expect(await readFile(tokenFile, 'utf8')).toBe(refreshed);
    expect(await readFile(expiryFile, 'utf8')).toBe(expires);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    // The official client takes the renewed token from its cache as its own.
    const tokens = await tokenCount();
    await real().rucioOk(['whoami']);
    expect(await readFile(tokenFile, 'utf8')).toBe(refreshed);
    expect(await tokenCount()).toBe(tokens);
  });
});
