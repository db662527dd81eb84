import { mkdir, mkdtemp, rm, stat, symlink, utimes, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rucioConfigFromFlags } from '../../src/cli/rucio-options.js';
import { ConfigError } from '../../src/common/errors.js';
import { RucioClient, loadRucioConfig } from '../../src/rucio/index.js';
import {
  officialRefreshDue,
  officialTokenFiles,
  pythonTempDir,
  readOfficialToken,
  writeOfficialToken,
} from '../../src/rucio/token-cache-official.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'official-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cfg = async (client: string): Promise<string> => {
  const file = join(dir, 'rucio.cfg');
  await writeFile(file, `[client]\nrucio_host = http://127.0.0.1:1\naccount = alice\n${client}\n`);
  return file;
};

describe("the official client's token cache path", () => {
  it('is <python temp dir>/<user>/.rucio_<user>/auth_token_for_account_<account> for the default VO', () => {
    const files = officialTokenFiles({ account: 'alice', vo: 'def', env: { TMPDIR: '/scratch/t/', LOGNAME: 'bob' } });
    expect(files.tokenFile).toBe('/scratch/t/bob/.rucio_bob/auth_token_for_account_alice');
    expect(files.expiryFile).toBe('/scratch/t/bob/.rucio_bob/auth_token_exp_for_account_alice');
  });

  it('adds @<vo> to the directory for another VO', () => {
    const files = officialTokenFiles({ account: 'alice', vo: 'ligo', env: { TMPDIR: '/scratch', USER: 'bob' } });
    expect(files.tokenFile).toBe('/scratch/bob/.rucio_bob@ligo/auth_token_for_account_alice');
  });

  it("follows Python's temp dir (TMPDIR, TEMP, TMP, /tmp) and user (LOGNAME before USER) order", () => {
    expect(pythonTempDir({ TEMP: '/b', TMP: '/c' })).toBe('/b');
    expect(pythonTempDir({})).toBe('/tmp');
    const files = officialTokenFiles({ account: 'alice', vo: 'def', env: { LOGNAME: 'first', USER: 'second' } });
    expect(files.tokenFile).toBe('/tmp/first/.rucio_first/auth_token_for_account_alice');
  });

  it('is the file of [client] auth_token_file_path when set, the expiry file beside it', () => {
    const files = officialTokenFiles({ account: 'alice', vo: 'ligo', tokenFilePath: '/home/a/.rucio/token', env: {} });
    expect(files).toEqual({ tokenFile: '/home/a/.rucio/token', expiryFile: '/home/a/.rucio/auth_token_exp_for_account_alice' });
  });

  it('--vo and -S oidc of the command line reach the path the client uses', async () => {
    const env = { RUCIO_CONFIG: await cfg(''), TMPDIR: dir, LOGNAME: 'bob' };
    const config = await rucioConfigFromFlags({ vo: 'virgo', authStrategy: 'oidc' }, env);
    const client = new RucioClient(config, { env });
    try {
      expect(client.auth.cachePath).toBe(join(dir, 'bob', '.rucio_bob@virgo', 'auth_token_for_account_alice'));
    } finally {
      await client.close();
    }
    const defaultVo = new RucioClient(await rucioConfigFromFlags({ authType: 'oidc' }, env), { env });
    try {
      expect(defaultVo.auth.cachePath).toBe(join(dir, 'bob', '.rucio_bob', 'auth_token_for_account_alice'));
    } finally {
      await defaultVo.close();
    }
  });
});

describe('reading the cache', () => {
  const files = (): ReturnType<typeof officialTokenFiles> => officialTokenFiles({ account: 'alice', vo: 'def', env: { TMPDIR: dir, LOGNAME: 'bob' } });

  it('has nothing when the client never logged in', async () => {
    expect(await readOfficialToken(files())).toBeUndefined();
  });

  it('reads the token as the client wrote it, the expiry from the file beside it', async () => {
    const f = files();
    await writeOfficialToken(f, 'root-ddmlab-unknown-0123', 2_000_000_000);
    const entry = await readOfficialToken(f);
    expect(entry).toMatchObject({ token: 'root-ddmlab-unknown-0123', expiresAt: 2_000_000_000_000, expirySource: 'expiry file' });
    expect((await stat(f.tokenFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'bob', '.rucio_bob'))).mode & 0o777).toBe(0o700);
    expect(await readFile(f.expiryFile, 'utf8')).toBe('2000000000');
  });

  it('ignores an expiry file older than the token (a later login of another kind) and "None"', async () => {
    const f = files();
    await writeOfficialToken(f, 'old', 1_000_000_000);
    await utimes(f.expiryFile, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    await writeFile(f.tokenFile, 'root-ddmlab-unknown-new');
    expect(await readOfficialToken(f)).toMatchObject({ token: 'root-ddmlab-unknown-new', expiresAt: undefined, expirySource: undefined });
    await writeFile(f.expiryFile, 'None');
    expect((await readOfficialToken(f))?.expiresAt).toBeUndefined();
  });

  it("takes a JWT's exp claim when there is no expiry file", async () => {
    const f = files();
    const payload = Buffer.from(JSON.stringify({ exp: 1_900_000_000 })).toString('base64url');
    await mkdir(join(dir, 'bob', '.rucio_bob'), { recursive: true });
    await writeFile(f.tokenFile, `eyJhbGciOiJSUzI1NiJ9.${payload}.c2ln`);
    expect(await readOfficialToken(f)).toMatchObject({ expiresAt: 1_900_000_000_000, expirySource: 'token' });
  });

  it('says which file when it holds no token (empty, or characters no token has)', async () => {
    const f = files();
    await mkdir(join(dir, 'bob', '.rucio_bob'), { recursive: true });
    await writeFile(f.tokenFile, '');
    await expect(readOfficialToken(f)).rejects.toThrow(new RegExp(`${f.tokenFile}.*does not hold a token \\(it is empty\\)`));
    await writeFile(f.tokenFile, 'tok\u00e9n with spaces');
    const error = await readOfficialToken(f).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    expect((error as Error).message).toMatch(/characters no token has.*rucio -S oidc whoami/);
  });

  it('refuses a symlink in place of the token file', async () => {
    const f = files();
    await mkdir(join(dir, 'bob', '.rucio_bob'), { recursive: true });
    await writeFile(join(dir, 'elsewhere'), 'someone-elses-token');
    await symlink(join(dir, 'elsewhere'), f.tokenFile);
    await expect(readOfficialToken(f)).rejects.toThrow(/not a plain file/);
  });
});

describe('when the client renews (auth_oidc_refresh_active)', () => {
  const entry = (expiryFileEpochMs: number | undefined) => ({
    token: 't',
    expiresAt: expiryFileEpochMs,
    expirySource: undefined,
    expiryFileEpochMs,
    writtenAt: 0,
  });
  it('renews with no known expiry, or within the minutes before it, never after it', () => {
    const now = 10_000_000;
    expect(officialRefreshDue(entry(undefined), 20, now)).toBe(true);
    expect(officialRefreshDue(entry(now + 30 * 60_000), 20, now)).toBe(false);
    expect(officialRefreshDue(entry(now + 10 * 60_000), 20, now)).toBe(true);
    expect(officialRefreshDue(entry(now - 1), 20, now)).toBe(false);
  });

  it('reads auth_oidc_refresh_active and auth_oidc_refresh_before_exp from rucio.cfg as the client does', async () => {
    const off = await loadRucioConfig({ env: { RUCIO_CONFIG: await cfg('auth_type = oidc') } });
    expect(off).toMatchObject({ authType: 'oidc', oidcRefreshActive: false, oidcRefreshBeforeExpMinutes: 20 });
    const on = await loadRucioConfig({ env: { RUCIO_CONFIG: await cfg('auth_type = oidc\nauth_oidc_refresh_active = Yes\nauth_oidc_refresh_before_exp = 5') } });
    expect(on).toMatchObject({ oidcRefreshActive: true, oidcRefreshBeforeExpMinutes: 5 });
    await expect(loadRucioConfig({ env: { RUCIO_CONFIG: await cfg('auth_oidc_refresh_active = sometimes') } })).rejects.toThrow(
      /oidcRefreshActive from .*rucio\.cfg \[client\] auth_oidc_refresh_active \(line 4\): must be true or false/,
    );
  });
});
