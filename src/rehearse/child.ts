import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { childEnv, wavefierExecutable } from '../common/installation.js';

export { childEnv, packageRoot, wavefierExecutable } from '../common/installation.js';

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
