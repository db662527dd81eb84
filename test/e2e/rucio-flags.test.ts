import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLake, type Lake } from '../../src/lake/index.js';
import { startPrivateRedis, type PrivateRedis } from '../../src/redis/index.js';
import { generatePki } from '../fixtures/rucio/pki.js';
import { runCli, wavefierBin } from '../helpers/cli.js';
import { readEvents } from '../helpers/stack.js';

/**
 * Every command that talks to Rucio takes the same connection flags, and they reach its
 * configuration. The client's rucio.cfg names an address where nothing listens; the lake is reached
 * only through the flags, over HTTPS with a certificate no system CA signed, so `-H/--host`,
 * `--auth-host` and `--insecure` must all arrive, in child processes too.
 */

const rucioCommands = ['rehearse', 'upload', 'upload-worker', 'download', 'download-worker', 'doctor'];
const otherCommands = ['report', 'inspect', 'lake'];

let dir: string;
let lake: Lake;
let redis: PrivateRedis;
let proxy: Server;
let tlsUrl: string;
let env: NodeJS.ProcessEnv;
let tlsFlags: string[];
const children: ChildProcess[] = [];

/** An HTTPS front for the lake's catalog, with a certificate of a throwaway CA. */
async function startTlsProxy(target: string, key: Buffer, cert: Buffer): Promise<Server> {
  const upstream = new URL(target);
  const server = createServer({ key, cert }, (req, res) => {
    const forwarded = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rucio-flags-e2e-'));
  lake = await startLake({ dir: join(dir, 'lake'), quiet: true });
  redis = await startPrivateRedis();
  const pki = generatePki(await mkdir(join(dir, 'pki'), { recursive: true }).then(() => join(dir, 'pki')));
  proxy = await startTlsProxy(lake.settings.rucioHost, await readFile(pki.serverKey), await readFile(pki.serverCert));
  tlsUrl = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  // The lake's client configuration with its hosts pointing nowhere: only the flags can reach it.
  const home = join(dir, 'client');
  await mkdir(join(home, 'etc'), { recursive: true });
  const cfg = (await readFile(lake.settings.rucioCfgPath, 'utf8'))
    .replace(/^rucio_host = .*$/m, 'rucio_host = http://127.0.0.1:1')
    .replace(/^auth_host = .*$/m, 'auth_host = http://127.0.0.1:1');
  await writeFile(join(home, 'etc', 'rucio.cfg'), cfg, { mode: 0o600 });
  await copyFile(lake.settings.rseAccountsPath, join(home, 'etc', 'rse-accounts.cfg'));
  env = { RUCIO_HOME: home, RUCIO_CONFIG: '', TMPDIR: dir };
  tlsFlags = ['-H', tlsUrl, '--auth-host', tlsUrl, '--insecure'];
}, 60_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await new Promise<void>((resolve) => {
    proxy.close(() => resolve());
    proxy.closeAllConnections();
  });
  await redis.stop();
  await lake.close();
  await rm(dir, { recursive: true, force: true });
});

function spawnWavefier(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [wavefierBin, ...args], { env: { ...process.env, ...env, CI: '1', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

/** A command's help under "Rucio connection:", up to the next heading, with its line wrapping undone. */
function rucioSection(help: string): string {
  const at = help.indexOf('Rucio connection:');
  if (at < 0) return '';
  const rest = help.slice(at);
  const end = rest.indexOf('\n\n');
  return (end < 0 ? rest : rest.slice(0, end)).replace(/\s+/g, ' ');
}

describe('the shared Rucio connection flags', () => {
  it('are listed, identically, by every command that talks to Rucio, and by no other', async () => {
    const sections = await Promise.all(rucioCommands.map(async (command) => rucioSection((await runCli([command, '--help'])).stdout)));
    for (const flag of ['-H, --host <url>', '--auth-host <url>', '-a, --account <name>', '--vo <vo>', '-S, --auth-strategy <type>', '--ca-certificate <path>', '--insecure']) {
      expect(sections[0]).toContain(flag);
    }
    expect(sections[0]).toContain('(choices: "userpass", "x509", "x509_proxy", "token", "oidc")');
    expect(new Set(sections).size).toBe(1);
    for (const command of otherCommands) expect(rucioSection((await runCli([command, '--help'])).stdout)).toBe('');
  });

  it('reach the configuration of every command: a bad --vo stops each with exit 2, naming the flag', async () => {
    const badVo = ['--vo', 'not a vo'];
    const runs = {
      upload: ['upload', '--source', 'synthetic', '--count', '1', '--rse', 'LAKE_S3', ...badVo],
      'upload-worker': ['upload-worker', '--redis', redis.url, ...badVo],
      download: ['download', '--dataset', 'anything', ...badVo],
      'download-worker': ['download-worker', '--redis', redis.url, ...badVo],
      rehearse: ['rehearse', '--external', '--rse', 'LAKE_S3', '--log-dir', join(dir, 'unused'), ...badVo],
    };
    for (const [command, args] of Object.entries(runs)) {
      const result = await runCli(args, { env });
      expect(result.code, `${command}: ${result.stderr}`).toBe(2);
      expect(result.stderr.trim()).toBe('wavefier: error: invalid Rucio setting vo from flag vo: must be a short VO name such as def');
    }
    const doctor = await runCli(['doctor', ...badVo], { env });
    expect(doctor.code).toBe(2);
    expect(doctor.stdout).toMatch(/FAIL\s+config\s+invalid Rucio setting vo from flag vo/);
  });

  it('are refused by rehearse without --external, whose embedded lake brings its own connection', async () => {
    const result = await runCli(['rehearse', '--insecure', '--log-dir', join(dir, 'unused')], { env });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('wavefier: error: --insecure applies to --external only: the embedded lake brings its own connection');
  });

  it('carry doctor over TLS to a server only the flags name, which --insecure alone lets it trust', async () => {
    const trusted = await runCli(['doctor', '--rse', 'LAKE_S3', ...tlsFlags], { env });
    expect(trusted.stdout).toMatch(/ok\s+config .*rucio_host https:\/\/127\.0\.0\.1:\d+, .*TLS certificates not verified \(--insecure\)/);
    expect(trusted.stdout.trim().split('\n').map((line) => line.split(/\s+/).slice(0, 2).join(' '))).toEqual(['ok config', 'ok reachability', 'ok authentication', 'ok rse']);
    expect(trusted.code).toBe(0);
    const untrusted = await runCli(['doctor', '--rucio-host', tlsUrl, '--auth-host', tlsUrl], { env });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stdout).toMatch(/FAIL\s+reachability .*TLS verification of https:\/\/127\.0\.0\.1:\d+ failed; set ca_cert/);
  });

  it('carry upload, upload-worker and download over TLS to a server only the flags name', async () => {
    const run = 'tlsflags-a1';
    const dataset = `ds-${run}`;
    const logDir = join(dir, 'logs');
    const producer = spawnWavefier([
      '--json', 'upload', '--redis', redis.url, '--rse', 'LAKE_S3', '--source', 'synthetic', '--count', '4', '--as-fast-as-possible',
      '--workers', '0', '--run-id', run, '--dataset', dataset, '--close-dataset', '--log-dir', logDir, ...tlsFlags,
    ]);
    const worker = spawnWavefier(['upload-worker', '--redis', redis.url, '--workers', '2', '--log-dir', logDir, ...tlsFlags]);
    const uploaded = await producer.done;
    worker.child.kill('SIGTERM');
    await worker.done;
    expect(uploaded.stderr).not.toMatch(/error:/);
    expect(uploaded.code).toBe(0);
    expect(JSON.parse(uploaded.stdout.trim().split('\n').at(-1)!)).toMatchObject({ uploaded: 4, failed: 0 });

    const downloaded = await runCli(
      ['--json', 'download', '--dataset', dataset, '--until-closed', '--keep', 'none', '--workers', '1', '--log-dir', logDir, '--run-name', run, ...tlsFlags],
      { env, timeoutMs: 90_000 },
    );
    expect(downloaded.stderr).not.toMatch(/error:/);
    expect(downloaded.code).toBe(0);
    const verified = (await readEvents(join(logDir, run), 'download')).filter((event) => event.event === 'verified');
    expect(verified).toHaveLength(4);
  }, 180_000);

  it('carry rehearse --external to both of its sides', async () => {
    const logDir = join(dir, 'rehearsals');
    const result = await runCli(['--json', 'rehearse', '--external', '--rse', 'LAKE_S3', '--count', '4', '--as-fast-as-possible', '--no-plots', '--log-dir', logDir, ...tlsFlags], {
      env,
      timeoutMs: 150_000,
    });
    expect(result.stderr).not.toMatch(/error:/);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { integrity: Record<string, unknown> };
    expect(summary.integrity).toMatchObject({ scheduled: 4, uploaded: 4, verified: 4, corrupted: 0, missing: 0 });
  }, 180_000);
});
