/**
 * A real Rucio 1.31.7 server (the kit in `../shared/peers/rucio/`) for the real-Rucio tests
 * (test/rucio-real/peer.ts) and the `rucio-real` benchmark: started in a temporary state directory,
 * stopped after, and never left running, even if the owning process is killed (a detached watchdog
 * holds a pipe from it and cleans up when it closes).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { packageRoot } from '../../src/common/installation.js';
import { run, type RunOptions, type RunResult } from '../run-program.js';

/** `../shared` next to the checkout (`WAVEFIER_SHARED_DIR` overrides it), as scripts/setup finds it. */
const sharedDir = process.env.WAVEFIER_SHARED_DIR ?? join(packageRoot(), '..', 'shared');
/** The peers kit: `WAVEFIER_PEERS_DIR`, else `<shared>/peers`. */
export const peersDir = process.env.WAVEFIER_PEERS_DIR ?? join(sharedDir, 'peers');
export const peerScript = join(peersDir, 'rucio', 'peer');

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

/** The official client run directly, as a user runs it (what `peer rucio` runs, without the script around it). */
export interface OfficialClient {
  /** `/usr/bin/python3`. */
  python: string;
  /** The `rucio` script of the peer's unpacked source. */
  rucio: string;
  /** `rucio-admin`. */
  rucioAdmin: string;
  /** PYTHONPATH, RUCIO_CONFIG and the per-peer TMPDIR (the client's token cache) that `peer rucio` sets. */
  env: NodeJS.ProcessEnv;
}

export interface RealRucio {
  /** The temporary directory of this server: `state/` (the peer's) and room for the caller's files. */
  dir: string;
  info: PeerInfo;
  /** Environment for `bin/wavefier`: the peer's rucio.cfg, and a token cache of its own. */
  env: NodeJS.ProcessEnv;
  /** The official client's command and environment, for callers that time it (no wrapper script). */
  official: OfficialClient;
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
    `the Rucio test peer is not at ${peerScript}: the real-Rucio suite and benchmark need the kit of ../shared/peers/rucio ` +
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

/** Stops the peer's server and removes the directory when this process ends, even by SIGKILL. */
function startWatchdog(state: string, dir: string): { end(): void } {
  return cleanupOnExit('if [ -d "$2" ]; then "$1" down --dir "$2"; fi; rm -rf "$3"', peerScript, state, dir);
}

function okOrThrow(what: string, result: RunResult): string {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result.stdout;
}

/** `peer env` output (`export NAME=value` lines) as variables. */
function exportedVariables(text: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const match of text.matchAll(/^export (\w+)=(.*)$/gm)) {
    const [, name, value] = match;
    if (name !== undefined && value !== undefined) env[name] = value.replace(/^'(.*)'$/, '$1');
  }
  return env;
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
  const exported = exportedVariables(okOrThrow('peer env', await run(peerScript, ['env', '--dir', state])));
  const source = join(state, 'src', 'rucio-1.31.7', 'bin');
  await mkdir(join(state, 'tmp'), { recursive: true });
  const official: OfficialClient = {
    python: '/usr/bin/python3',
    rucio: join(source, 'rucio'),
    rucioAdmin: join(source, 'rucio-admin'),
    env: { ...exported, TMPDIR: join(state, 'tmp') },
  };
  const client = (tool: 'rucio' | 'rucio-admin', args: readonly string[], options: RunOptions = {}): Promise<RunResult> =>
    run(peerScript, [tool, '--dir', state, ...args], { cwd: dir, ...options });
  let stopping: Promise<void> | undefined;
  return {
    dir,
    info,
    env: { RUCIO_CONFIG: info.client_cfg, TMPDIR: dir },
    official,
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
