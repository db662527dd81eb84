import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RuntimeFailure } from '../common/errors.js';

let root: string | undefined;

/**
 * The directory of this wavefier installation (package.json, bin/), found upwards from this module:
 * the same answer from the compiled product (dist/), from the sources under vitest (src/), and from
 * the tools' build, which compiles the sources once more (build/src/).
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'bin', 'wavefier'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new RuntimeFailure(`no wavefier installation (package.json and bin/wavefier) above ${fileURLToPath(import.meta.url)}: reinstall wavefier`);
    dir = parent;
  }
  root = dir;
  return dir;
}

/** The wavefier executable of this installation, for running upload and download as separate processes. */
export function wavefierExecutable(): string {
  return join(packageRoot(), 'bin', 'wavefier');
}

/**
 * V8 sizes its heap for this machine's memory (gigabytes), so a busy upload, download or lake process
 * lets garbage pile up to 250+ MB before collecting it. Their live data is small (a few MB even for a
 * 4-hour run); tighter limits keep each process near 150 MB at the cost of more frequent, cheap GCs.
 * Inherited by the download worker processes.
 */
const childHeapOptions = '--max-old-space-size=256 --max-semi-space-size=8';

/** The environment of a child process: `env` plus the heap limits (appended, so they win). */
export function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, NODE_OPTIONS: [env.NODE_OPTIONS, childHeapOptions].filter(Boolean).join(' ') };
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last JSON object the child printed on stdout (its --json summary). */
  summary: unknown;
}

export interface RunningChild {
  readonly process: ChildProcess;
  readonly done: Promise<ChildResult>;
  /** SIGTERM now, SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs: number): void;
}

/**
 * Starts `wavefier <args>` as its own process (as it would run at its own site), forwards its stderr
 * line by line with a label, and collects its JSON summary from stdout.
 */
export function startWavefier(
  label: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  onLine: (label: string, line: string) => void,
): RunningChild {
  const child = spawn(process.execPath, [wavefierExecutable(), '--json', ...args], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A rehearse that exits at once (second signal) takes its upload and download with it.
  const killOnExit = (): void => {
    child.kill('SIGTERM');
  };
  process.on('exit', killOnExit);
  let summary: unknown;
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      summary = JSON.parse(line);
    } catch {
      onLine(label, line);
    }
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (line.trim() !== '') onLine(label, line);
  });
  const done = new Promise<ChildResult>((resolve) => {
    child.on('close', (code, signal) => {
      process.off('exit', killOnExit);
      resolve({ code, signal, summary });
    });
    child.on('error', (error) => {
      onLine(label, `could not start: ${error.message}`);
      resolve({ code: null, signal: null, summary });
    });
  });
  let killTimer: NodeJS.Timeout | undefined;
  void done.then(() => clearTimeout(killTimer));
  return {
    process: child,
    done,
    stop(graceMs) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), graceMs);
    },
  };
}
