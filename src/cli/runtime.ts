import type { Command } from 'commander';
import { definedProps } from '../common/defined.js';
import { Output } from '../common/output.js';

/** What every subcommand receives besides its own options: output streams, the stop signal, global flags. */
export interface CommandContext {
  output: Output;
  /** Aborted on the first SIGINT/SIGTERM; long-running commands stop gracefully when it fires. */
  signal: AbortSignal;
  json: boolean;
  debug: boolean;
  /** -v: more detail; --debug implies it. */
  verbose: boolean;
  /** -q: no progress and no informational lines. */
  quiet: boolean;
}

export interface Runtime {
  signal: AbortSignal;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

export function contextFor(command: Command, runtime: Runtime): CommandContext {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const json = globals.json === true;
  const debug = globals.debug === true;
  const verbose = globals.verbose === true || debug;
  const quiet = globals.quiet === true;
  const output = new Output({
    json,
    debug,
    quiet,
    ...definedProps({ stdout: runtime.stdout, stderr: runtime.stderr, env: runtime.env }),
  });
  return { output, signal: runtime.signal, json, debug, verbose, quiet };
}

/** A subcommand module registers itself on the program; one file per subcommand. */
export type RegisterCommand = (program: Command, runtime: Runtime) => void;
