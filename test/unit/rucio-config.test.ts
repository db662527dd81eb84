import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import { loadRucioConfig, rucioConfigFrom } from '../../src/rucio/index.js';

let home: string;

const cfg = (client: string): string => `# written by a test\n[client]\n${client}\n\n[policy]\nlfn2pfn_algorithm_default = hash\n`;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'rucio-config-'));
  await mkdir(join(home, 'etc'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('loadRucioConfig', () => {
  it('reads [client] from $RUCIO_HOME/etc/rucio.cfg and rse-accounts.cfg beside it', async () => {
    await writeFile(
      join(home, 'etc', 'rucio.cfg'),
      cfg(
        'rucio_host = http://127.0.0.1:18080/\nauth_host: http://127.0.0.1:18081\nauth_type = userpass\nusername = ddmlab\npassword = secret\naccount = root\nrequest_retries = 5',
      ),
    );
    await writeFile(
      join(home, 'etc', 'rse-accounts.cfg'),
      JSON.stringify({ LAKE_S3: { access_key: 'AK', secret_key: 'SK', is_secure: false, signature_version: 's3v4', region: 'us-east-1', path_style: true } }),
    );
    const config = await loadRucioConfig({ env: { RUCIO_HOME: home } });
    expect(config.rucioHost).toBe('http://127.0.0.1:18080');
    expect(config.authHost).toBe('http://127.0.0.1:18081');
    expect(config.account).toBe('root');
    expect(config.vo).toBe('def');
    expect(config.retries).toBe(5);
    expect(config.configFile).toBe(join(home, 'etc', 'rucio.cfg'));
    expect(config.rseAccounts.LAKE_S3).toEqual({ accessKeyId: 'AK', secretAccessKey: 'SK', region: 'us-east-1', forcePathStyle: true });
    expect(config.sources.account).toMatch(/rucio\.cfg \[client\] account \(line 8\)/);
  });

  it('applies flags over environment over the file', async () => {
    await writeFile(
      join(home, 'etc', 'rucio.cfg'),
      cfg('rucio_host = http://file-host:1\naccount = fromfile\nusername = u\npassword = p\nvo = def'),
    );
    const env = { RUCIO_HOME: home, RUCIO_ACCOUNT: 'fromenv', RUCIO_HOST: 'http://env-host:2', RUCIO_VO: 'abc' };
    const config = await loadRucioConfig({ env, flags: { rucioHost: 'https://flag-host:3' } });
    expect(config.rucioHost).toBe('https://flag-host:3');
    expect(config.account).toBe('fromenv');
    expect(config.vo).toBe('abc');
    expect(config.sources.rucioHost).toBe('flag rucioHost');
    expect(config.sources.account).toBe('env RUCIO_ACCOUNT');
  });

  it('uses $RUCIO_CONFIG exclusively, and says so when it is missing', async () => {
    const other = join(home, 'other.cfg');
    await writeFile(other, cfg('rucio_host = http://other:1\naccount = other\nusername = u\npassword = p'));
    await writeFile(join(home, 'etc', 'rucio.cfg'), cfg('rucio_host = http://home:1\naccount = home\nusername = u\npassword = p'));
    const config = await loadRucioConfig({ env: { RUCIO_CONFIG: other, RUCIO_HOME: home } });
    expect(config.account).toBe('other');
    await expect(loadRucioConfig({ env: { RUCIO_CONFIG: join(home, 'nope.cfg'), RUCIO_HOME: home } })).rejects.toThrow(
      /RUCIO_CONFIG points to .*nope\.cfg, which does not exist/,
    );
  });

  it('falls back through VIRTUAL_ENV and CONDA_PREFIX', async () => {
    await writeFile(join(home, 'etc', 'rucio.cfg'), cfg('rucio_host = http://venv:1\naccount = venv\nusername = u\npassword = p'));
    const config = await loadRucioConfig({ env: { RUCIO_HOME: join(home, 'missing'), CONDA_PREFIX: home } });
    expect(config.rucioHost).toBe('http://venv:1');
  });

  it('reports a bad value with the file, key and reason', async () => {
    await writeFile(join(home, 'etc', 'rucio.cfg'), cfg('rucio_host = ftp://nope\naccount = root\nusername = u\npassword = p'));
    const error = await loadRucioConfig({ env: { RUCIO_HOME: home } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    expect((error as Error).message).toMatch(/rucioHost from .*rucio\.cfg \[client\] rucio_host \(line 3\): must be an http:\/\/ or https:\/\/ URL/);
  });

  it('reports a bad auth type from the environment', async () => {
    await writeFile(join(home, 'etc', 'rucio.cfg'), cfg('rucio_host = http://h:1\naccount = root\nusername = u\npassword = p'));
    await expect(loadRucioConfig({ env: { RUCIO_HOME: home, RUCIO_AUTH_TYPE: 'kerberos' } })).rejects.toThrow(
      /authType from env RUCIO_AUTH_TYPE: must be one of userpass, x509, x509_proxy, token, oidc/,
    );
  });

  it('follows the official proxy order: RUCIO_CLIENT_PROXY > client_x509_proxy > X509_USER_PROXY', async () => {
    await writeFile(join(home, 'etc', 'rucio.cfg'), cfg('rucio_host = https://h:1\naccount = root\nauth_type = x509_proxy\nclient_x509_proxy = /cfg/proxy'));
    expect((await loadRucioConfig({ env: { RUCIO_HOME: home, X509_USER_PROXY: '/env/x509' } })).clientProxy).toBe('/cfg/proxy');
    expect(
      (await loadRucioConfig({ env: { RUCIO_HOME: home, X509_USER_PROXY: '/env/x509', RUCIO_CLIENT_PROXY: '/env/rucio' } })).clientProxy,
    ).toBe('/env/rucio');
  });

  it('needs the pieces of the chosen auth type', async () => {
    await writeFile(join(home, 'etc', 'rucio.cfg'), cfg('rucio_host = https://h:1\naccount = root\nauth_type = x509\nclient_cert = /c.pem'));
    await expect(loadRucioConfig({ env: { RUCIO_HOME: home } })).rejects.toThrow(/x509 needs client_cert and client_key/);
  });

  it('says where it looked when there is no configuration at all', async () => {
    await expect(loadRucioConfig({ env: { RUCIO_HOME: join(home, 'none') } })).rejects.toThrow(/no Rucio configuration found \(looked for .*none\/etc\/rucio\.cfg/);
  });

  it('takes S3 credentials from the standard AWS environment', async () => {
    const config = await loadRucioConfig({
      env: { RUCIO_HOME: join(home, 'none'), RUCIO_HOST: 'http://h:1', RUCIO_ACCOUNT: 'root', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_REGION: 'eu-west-1' },
      flags: { username: 'u', password: 'p' },
    });
    expect(config.s3).toEqual({ accessKeyId: 'a', secretAccessKey: 'b', region: 'eu-west-1' });
  });

  it('rejects a malformed rse-accounts.cfg with the file named', async () => {
    await writeFile(join(home, 'etc', 'rucio.cfg'), cfg('rucio_host = http://h:1\naccount = root\nusername = u\npassword = p'));
    await writeFile(join(home, 'etc', 'rse-accounts.cfg'), JSON.stringify({ X: { access_key: 'a' } }));
    await expect(loadRucioConfig({ env: { RUCIO_HOME: home } })).rejects.toThrow(/invalid .*rse-accounts\.cfg entry X\.secret_key/);
  });
});

describe('rucioConfigFrom', () => {
  it('accepts the embedded lake settings as they are (extra keys ignored)', () => {
    const lake = {
      rucioHost: 'http://127.0.0.1:4000',
      authHost: 'http://127.0.0.1:4000',
      vo: 'def' as const,
      account: 'root' as const,
      username: 'wavefier',
      password: 'pw',
      scopes: ['wavefier', 'user.root'],
      defaultRse: 'LAKE_S3',
      s3: { endpoint: 'http://127.0.0.1:4001', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1' },
      dir: '/tmp/x',
    };
    const config = rucioConfigFrom(lake);
    expect(config.authType).toBe('userpass');
    expect(config.s3?.endpoint).toBe('http://127.0.0.1:4001');
    expect(config.timeoutMs).toBe(30_000);
  });

  it('rejects an invalid account name', () => {
    expect(() => rucioConfigFrom({ rucioHost: 'http://h', account: 'Bad Name', username: 'u', password: 'p' })).toThrow(
      /account from explicit settings: must be 1-25 characters/,
    );
  });
});
