import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLake, type Lake } from '../../src/lake/index.js';
import { RucioClient, rucioConfigFrom } from '../../src/rucio/index.js';
import { runCli } from '../helpers/cli.js';

let dir: string;
let lake: Lake;
let redis: ChildProcess | undefined;
let redisPort = 0;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'doctor-e2e-'));
  lake = await startLake({ dir: join(dir, 'lake'), quiet: true });
  redisPort = await freePort();
  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await sleep(300);
});

afterAll(async () => {
  if (redis?.pid !== undefined) process.kill(redis.pid, 'SIGTERM');
  await lake.close();
  await rm(dir, { recursive: true, force: true });
});

const env = (): NodeJS.ProcessEnv => ({ RUCIO_HOME: lake.settings.rucioHome, RUCIO_CONFIG: '', TMPDIR: dir });

describe('wavefier doctor', () => {
  it('passes every check against the embedded lake, probing the RSE and Redis', async () => {
    const result = await runCli(['doctor', '--rse', 'LAKE_S3', '--redis', `redis://127.0.0.1:${redisPort}`], { env: env() });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(['ok config', 'ok reachability', 'ok authentication', 'ok rse', 'ok redis']);
    // LAKE_S3 has sign_url s3, but its keys are in rse-accounts.cfg: wavefier signs its requests itself.
    expect(result.stdout).toMatch(
      /wrote, read back and deleted a probe object via https:\/\/127\.0\.0\.1:\d+ \(S3 requests signed by wavefier with the RSE's keys from rse-accounts\.cfg; the catalog's sign_url s3 is not used\)/,
    );
  });

  it('gives one JSON object per check with --json, and writes nothing with --no-write', async () => {
    const result = await runCli(['--json', 'doctor', '--rse', 'LAKE_SIGNED', '--no-write'], { env: env() });
    expect(result.code).toBe(0);
    const checks = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { check: string; ok: boolean; detail: string });
    expect(checks.map((c) => [c.check, c.ok])).toEqual([['config', true], ['reachability', true], ['authentication', true], ['rse', true]]);
    expect(checks[3]?.detail).toMatch(/write probe skipped \(--no-write\)/);
    // LAKE_SIGNED has no keys in rse-accounts.cfg: the catalog presigns every URL.
    expect(checks[3]?.detail).toMatch(/resolved: https:\/\/127\.0\.0\.1:\d+ \(URLs presigned by the catalog: sign_url s3\)/);
  });

  it('fails the authentication check with its fix when the password is wrong (exit 2: credentials are configuration)', async () => {
    const cfg = join(dir, 'bad.cfg');
    await writeFile(cfg, `[client]\nrucio_host = ${lake.settings.rucioHost}\nauth_host = ${lake.settings.authHost}\nauth_type = userpass\nusername = ${lake.settings.username}\npassword = wrong\naccount = root\n`);
    const result = await runCli(['doctor', '--rse', 'LAKE_S3'], { env: { ...env(), RUCIO_CONFIG: cfg } });
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/FAIL\s+authentication .*IdentityNotFound|FAIL\s+authentication .*CannotAuthenticate/);
    expect(result.stdout).toMatch(/fix: check username\/password and account/);
    expect(result.stdout).toMatch(/skip\s+rse/);
    expect(result.stdout).not.toContain('wrong');
    expect(result.stderr).toMatch(/doctor: 1 check\(s\) failed: authentication/);
  });

  it('exits 2 on a bad configuration value, naming the file and key', async () => {
    const cfg = join(dir, 'broken.cfg');
    await writeFile(cfg, '[client]\nrucio_host = not a url\naccount = root\nusername = u\npassword = p\n');
    const result = await runCli(['doctor'], { env: { ...env(), RUCIO_CONFIG: cfg } });
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/FAIL\s+config\s+invalid Rucio setting rucioHost from .*broken\.cfg \[client\] rucio_host \(line 2\)/);
  });

  it('reports an unreachable server and a dead Redis (exit 1)', async () => {
    const port = await freePort();
    const result = await runCli(['doctor', '--rucio-host', `http://127.0.0.1:${port}`, '--redis', `redis://127.0.0.1:${port}`], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/FAIL\s+reachability .*cannot reach http:\/\/127\.0\.0\.1:\d+/);
    expect(result.stdout).toMatch(/FAIL\s+redis .*ECONNREFUSED/);
  });

  it('takes the shared Rucio connection flags: --vo and --insecure reach the configuration', async () => {
    const result = await runCli(['doctor', '--vo', 'def', '--insecure', '--rucio-host', lake.settings.rucioHost, '--account', 'root'], { env: env() });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/ok\s+config .*account root, vo def, TLS certificates not verified \(--insecure\)/);
    const badVo = await runCli(['doctor', '--vo', 'not a vo'], { env: env() });
    expect(badVo.code).toBe(2);
    expect(badVo.stdout).toMatch(/FAIL\s+config\s+invalid Rucio setting vo from flag vo: must be a short VO name/);
  });

  it('authenticates with --auth-type oidc from a bearer token in BEARER_TOKEN', async () => {
    const client = new RucioClient(rucioConfigFrom({ ...lake.settings, tokenCacheDir: join(dir, 'tokens') }));
    const token = await client.auth.token();
    await client.close();
    const result = await runCli(['doctor', '--auth-type', 'oidc'], { env: { ...env(), BEARER_TOKEN: token } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/ok\s+authentication\s+authenticated as root \(oidc at /);
    const without = await runCli(['doctor', '--auth-type', 'oidc'], { env: { ...env(), BEARER_TOKEN: '', XDG_RUNTIME_DIR: dir } });
    expect(without.code).toBe(2);
    expect(without.stdout).toMatch(
      /FAIL\s+authentication auth type oidc uses a token you already have, and there is none: the official Rucio client has no token for account root \(no .*\/\.rucio_.*\/auth_token_for_account_root\) and no bearer token was found/,
    );
  });
});
