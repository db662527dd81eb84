import { fileURLToPath } from 'node:url';
import { definedProps } from '../../src/common/defined.js';
import { run, type RunResult } from '../../tools/run-program.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const wavefierBin = fileURLToPath(new URL('../../bin/wavefier', import.meta.url));
/** The shared data and peers (`../shared` next to the checkout; WAVEFIER_SHARED_DIR for a checkout elsewhere). */
export const sharedDir = process.env.WAVEFIER_SHARED_DIR ?? fileURLToPath(new URL('../../../shared', import.meta.url));

export type CliResult = RunResult;

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  input?: string;
}

/** Runs the built `bin/wavefier` as a user would, in a child process, and collects its output. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return run(process.execPath, [wavefierBin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { CI: '1', NO_COLOR: '1', ...options.env },
    ...definedProps({ timeoutMs: options.timeoutMs, input: options.input }),
  });
}
