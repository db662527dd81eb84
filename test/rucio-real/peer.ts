/**
 * A real Rucio 1.31.7 server (the kit in `../shared/peers/rucio/`) for one test file: started in a
 * temporary state directory, stopped after, and never left running, even if the test process is
 * killed (a detached watchdog holds a pipe from this process and cleans up when it closes).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import ADLER32 from 'adler-32';
import { afterAll, beforeAll } from 'vitest';
import { sharedDir } from '../helpers/cli.js';

/** The peers kit: `WAVEFIER_PEERS_DIR`, else `../shared/peers` next to the checkout (as scripts/setup finds it). */
export const peersDir = process.env.WAVEFIER_PEERS_DIR ?? join(sharedDir, 'peers');
export const peerScript = join(peersDir, 'rucio', 'peer');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

/** Runs a program to its end and collects its output (never throws on a non-zero exit). */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface PeerInfo {
  host: string;
  port: number;
  client_cfg: string;
  dir: string;
  pid: number;
  db: string;
  rse: string;
  rse_prefix: string;
}

export interface RealRucio {
  /** The temporary directory of this server: `state/` (the peer's) and room for the test's files. */
  dir: string;
  info: PeerInfo;
  /** Environment for `bin/wavefier`: the peer's rucio.cfg, and a token cache of its own. */
  env: NodeJS.ProcessEnv;
  /** The official `rucio` client against this server. */
  rucio(args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** The official `rucio-admin`. */
  rucioAdmin(args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Like `rucio`, but throws with the client's output when it exits non-zero. */
  rucioOk(args: readonly string[], options?: RunOptions): Promise<string>;
  rucioAdminOk(args: readonly string[], options?: RunOptions): Promise<string>;
  stop(): Promise<void>;
}

function missingKit(): Error {
  return new Error(
    `the Rucio test peer is not at ${peerScript}: the real-Rucio suite needs the kit of ../shared/peers/rucio ` +
      '(set WAVEFIER_PEERS_DIR to the directory holding rucio/peer) and `peer install` (scripts/setup runs it)',
  );
}

/**
 * Runs `script` (bash) when this process ends, whatever way: a detached watchdog reads a pipe from
 * this process and runs it on EOF, which the kernel delivers even after SIGKILL. `end()` runs it now.
 */
export function cleanupOnExit(script: string, ...args: string[]): { end(): void } {
  const watchdog = spawn('bash', ['-c', `cat >/dev/null; ${script}`, 'watchdog', ...args], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.unref();
  (watchdog.stdin as unknown as Socket).unref();
  return { end: () => watchdog.stdin.end() };
}

/** Stops the peer's server and removes the directory when the test process ends, even by SIGKILL. */
function startWatchdog(state: string, dir: string): { end(): void } {
  return cleanupOnExit('if [ -d "$2" ]; then "$1" down --dir "$2"; fi; rm -rf "$3"', peerScript, state, dir);
}

function okOrThrow(what: string, result: RunResult): string {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result.stdout;
}

/** Starts a real Rucio server in a fresh temporary directory (about 3 s on SQLite). */
export async function startRealRucio(): Promise<RealRucio> {
  if (!existsSync(peerScript)) throw missingKit();
  const dir = await mkdtemp(join(tmpdir(), 'wavefier-rucio-real-'));
  const state = join(dir, 'state');
  const watchdog = startWatchdog(state, dir);
  const up = await run(peerScript, ['up', '--dir', state], { timeoutMs: 120_000 });
  if (up.code !== 0) {
    watchdog.end();
    throw new Error(`peer up failed (exit ${up.code}): ${up.stderr.trim().split('\n').slice(-10).join('\n')}`);
  }
  const info = JSON.parse(up.stdout.trim().split('\n').at(-1) ?? '') as PeerInfo;
  const client = (tool: 'rucio' | 'rucio-admin', args: readonly string[], options: RunOptions = {}): Promise<RunResult> =>
    run(peerScript, [tool, '--dir', state, ...args], { cwd: dir, ...options });
  let stopping: Promise<void> | undefined;
  return {
    dir,
    info,
    env: { RUCIO_CONFIG: info.client_cfg, TMPDIR: dir },
    rucio: (args, options) => client('rucio', args, options),
    rucioAdmin: (args, options) => client('rucio-admin', args, options),
    rucioOk: async (args, options) => okOrThrow(`rucio ${args.join(' ')}`, await client('rucio', args, options)),
    rucioAdminOk: async (args, options) => okOrThrow(`rucio-admin ${args.join(' ')}`, await client('rucio-admin', args, options)),
    stop: () =>
      (stopping ??= (async () => {
        await run(peerScript, ['down', '--dir', state], { timeoutMs: 30_000 });
        await rm(dir, { recursive: true, force: true });
        watchdog.end();
      })()),
  };
}

/**
 * The rows of a table the official client prints (tabulate's `psql` format): header cells as keys.
 * Lines that are not table rows (log lines, borders) are ignored.
 */
export function parseTable(text: string): Record<string, string>[] {
  const rows = text
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|[-+|]+\|?$/.test(line))
    .map((line) => line.slice(1, line.endsWith('|') ? -1 : undefined).split('|').map((cell) => cell.trim()));
  const [header, ...body] = rows;
  if (header === undefined) return [];
  return body.map((cells) => Object.fromEntries(header.map((key, i) => [key, cells[i] ?? ''])));
}

/** adler32 ('%08x', as Rucio stores it), md5 and size of bytes, computed here (not by wavefier's code). */
export function fileSums(bytes: Uint8Array): { adler32: string; md5: string; bytes: number } {
  return {
    adler32: (ADLER32.buf(bytes, 1) >>> 0).toString(16).padStart(8, '0'),
    md5: createHash('md5').update(bytes).digest('hex'),
    bytes: bytes.byteLength,
  };
}

/** Rucio's deterministic `hash` lfn2pfn path under an RSE prefix (in user* / group* scopes dots become slashes). */
export function hashPath(prefix: string, scope: string, name: string): string {
  const hash = createHash('md5').update(`${scope}:${name}`).digest('hex');
  const scopePath = scope.startsWith('user') || scope.startsWith('group') ? scope.replaceAll('.', '/') : scope;
  return `${prefix}/${scopePath}/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${name}`;
}

/** Every JSON line of a log file. */
export async function readJsonLines(path: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, 'utf8');
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * One real Rucio server for the calling test file: started before its tests, stopped after them.
 * Returns the accessor the tests use.
 */
export function realRucioForFile(): () => RealRucio {
  let peer: RealRucio | undefined;
  beforeAll(async () => {
    peer = await startRealRucio();
  }, 120_000);
  afterAll(async () => {
    await peer?.stop();
  }, 60_000);
  return () => {
    if (peer === undefined) throw new Error('the real Rucio server did not start (see the beforeAll error)');
    return peer;
  };
}
