import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { childEnv, wavefierExecutable } from '../common/installation.js';
import { ownedChildOptions, stopAtExit, stopOwnedChild } from '../common/shutdown.js';

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
  /**
   * Asks it to stop (closes its pipe: a graceful stop, as a first Ctrl-C would be); forces it with
   * SIGTERM if it has not exited after `forceAfterMs`, SIGKILL 2 s later. Resolves once it exited.
   */
  stop(forceAfterMs: number): Promise<void>;
}

/**
 * Starts `wavefier <args>` as its own process (as it would run at its own site), forwards its stderr
 * line by line with a label, and collects its JSON summary from stdout. The child runs in a process
 * group of its own with this process's pipe as stdin (common/shutdown.ts): a Ctrl-C at the terminal
 * reaches only the rehearsal, which stops its children in order; if the rehearsal dies, even by
 * SIGKILL, the pipe closes and the child stops by itself.
 */
export function startWavefier(
  label: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  onLine: (label: string, line: string) => void,
): RunningChild {
  const child = spawn(process.execPath, [wavefierExecutable(), '--json', ...args], ownedChildOptions(childEnv(env)));
  // A rehearse whose exit the user forced (second signal) forces its upload and download too.
  stopAtExit(child);
  child.stdin.on('error', () => undefined);
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
    child.on('close', (code, signal) => resolve({ code, signal, summary }));
    child.on('error', (error) => {
      onLine(label, `could not start: ${error.message}`);
      resolve({ code: null, signal: null, summary });
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    process: child,
    done,
    stop(forceAfterMs) {
      stopping ??= stopOwnedChild(child, { forceAfterMs });
      return stopping;
    },
  };
}
