import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/redis/private-server.js';
import { repoRoot, runCli, wavefierBin } from '../helpers/cli.js';
import { spawnLakeServe } from '../helpers/lake-serve.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('wavefier lake serve', () => {
  it('prints one JSON object when ready, serves Rucio requests, and exits 143 cleanly on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wavefier-lake-e2e-'));
    dirs.push(dir);
    const lake = spawnLakeServe(['--dir', dir, '--token-lifetime', '10m']);
    const ready = await lake.ready<{
      event: string; rucioHost: string; account: string; username: string; password: string; adminToken: string; rucioCfgPath: string; s3: { endpoint: string };
    }>();
    expect(ready.event).toBe('lake-ready');
    expect(ready.rucioCfgPath).toBe(join(dir, 'etc', 'rucio.cfg'));
    expect((await stat(ready.rucioCfgPath)).mode & 0o777).toBe(0o600);

    expect((await fetch(`${ready.rucioHost}/ping`)).status).toBe(200);
    const auth = await fetch(`${ready.rucioHost}/auth/userpass`, {
      headers: { 'X-Rucio-Account': ready.account, 'X-Rucio-Username': ready.username, 'X-Rucio-Password': ready.password },
    });
    expect(auth.status).toBe(200);
    const expires = Date.parse((auth.headers.get('x-rucio-auth-token-expires') ?? '').replace(' UTC', ' GMT'));
    expect(expires - Date.now()).toBeGreaterThan(590_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(600_000);
    const admin = await fetch(`${ready.rucioHost}/.lake/faults`, { headers: { 'X-Lake-Admin-Token': ready.adminToken } });
    expect(admin.status).toBe(200);

    lake.child.kill('SIGTERM');
    const { code } = await lake.exited;
    expect(code).toBe(143);
    expect(lake.stdout().trim().split('\n')).toHaveLength(1);
    expect(lake.stderr()).not.toMatch(/\n\s+at /);
    expect(lake.stderr()).not.toMatch(/NodeVersionSupportWarning/);
    await expect(fetch(`${ready.rucioHost}/ping`)).rejects.toThrow();
  });

  it('--s3-tls-port fixes the port of the storage over TLS, the one the S3 RSEs name in their PFNs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wavefier-lake-tls-port-'));
    dirs.push(dir);
    const tlsPort = await freePort();
    const lake = spawnLakeServe(['--dir', dir, '--s3-tls-port', String(tlsPort)]);
    const ready = await lake.ready<{ s3: { endpoint: string; tlsEndpoint: string }; rses: { name: string; pfnPrefix: string }[] }>();
    expect(ready.s3.tlsEndpoint).toBe(`https://127.0.0.1:${tlsPort}`);
    expect(ready.s3.endpoint).not.toContain(`:${tlsPort}`);
    for (const name of ['LAKE_S3', 'LAKE_SIGNED']) {
      expect(ready.rses.find((rse) => rse.name === name)?.pfnPrefix).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:${tlsPort}/`));
    }
    lake.child.kill('SIGTERM');
    expect((await lake.exited).code).toBe(143);
  });

  it('rejects a bad port with exit 2 and one line', async () => {
    const result = await runCli(['lake', 'serve', '--port', 'http']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/invalid --port 'http'/);
    const tls = await runCli(['lake', 'serve', '--s3-tls-port', '70000']);
    expect(tls.code).toBe(2);
    expect(tls.stderr.trim()).toMatch(/^wavefier: error: invalid --s3-tls-port '70000': use a port number 0-65535/);
    const lifetime = await runCli(['lake', 'serve', '--token-lifetime', 'forever']);
    expect(lifetime.code).toBe(2);
  });

  it('returns from `lake serve --json | head -1` as a shell pipeline: the lake stops when its reader goes, exit 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wavefier-lake-pipe-'));
    dirs.push(dir);
    const started = Date.now();
    const shell = spawn('bash', ['-c', `"${process.execPath}" "${wavefierBin}" --json lake serve --dir "${dir}" | head -1; echo "status \${PIPESTATUS[*]}"`], {
      cwd: repoRoot,
      env: { ...process.env, CI: '1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    shell.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    shell.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => shell.on('close', resolve));
    expect(code).toBe(0);
    const [first, status] = stdout.trim().split('\n');
    expect(JSON.parse(first ?? '') as { event: string }).toMatchObject({ event: 'lake-ready' });
    expect(status).toBe('status 0 0');
    expect(stderr).toContain('wavefier lake: the reader of its output went away, stopping');
    expect(stderr).not.toMatch(/EPIPE|error/i);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
