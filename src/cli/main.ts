import { CommanderError } from 'commander';
import { ExitCode, InterruptedError, isWavefierError, errorMessage } from '../common/errors.js';
import { watchStopRequests } from '../common/shutdown.js';
import { terminalText } from '../common/terminal-text.js';
import { createProgram } from './program.js';
import type { Runtime } from './runtime.js';

export interface RunOptions extends Omit<Runtime, 'signal'> {
  signal?: AbortSignal;
}

/**
 * Runs the CLI with `argv` (without node and script) and resolves to the exit code. Never throws and
 * never calls process.exit, so it can run in-process in tests.
 */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<number> {
  const signal = options.signal ?? new AbortController().signal;
  const stderr = options.stderr ?? process.stderr;
  const program = createProgram({ ...options, signal });
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    return exitCodeFor(error, debug, stderr);
  }
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    return reason instanceof InterruptedError ? reason.exitCode : ExitCode.sigint;
  }
  return ExitCode.ok;
}

function exitCodeFor(error: unknown, debug: boolean, stderr: NodeJS.WritableStream): number {
  if (error instanceof CommanderError) {
    // Commander already printed its message (or the help/version text).
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') {
      return ExitCode.ok;
    }
    return ExitCode.usage;
  }
  const prefix = 'wavefier: error: ';
  // Messages quote names and server answers: their control characters are escaped (terminal-text.ts).
  if (isWavefierError(error)) {
    stderr.write(`${prefix}${terminalText(error.message)}\n`);
    if (debug) stderr.write(`${describeStack(error)}\n`);
    return error.exitCode;
  }
  stderr.write(`${prefix}${terminalText(errorMessage(error))}${debug ? '' : ' (run with --debug for details)'}\n`);
  if (debug) stderr.write(`${describeStack(error)}\n`);
  return ExitCode.runtime;
}

function describeStack(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : errorMessage(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}

/**
 * Whoever reads our output may stop before we do (`wavefier --help | head -1`, `wavefier inspect
 * *.hdf5 | head`): a write then fails with EPIPE, which Node raises as an 'error' event that, unheard,
 * kills the process with a stack trace. There is nobody left to tell: the command finishes (a
 * rehearsal still writes its logs and its run_finished) and exits with its own status. Any other
 * output error stays fatal, as before.
 */
function endQuietlyOnClosedOutput(streams: readonly NodeJS.WriteStream[]): void {
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
}

/** How long a finished command lets libraries' timers and handles run before it exits anyway. */
const exitGraceMs = 100;

/**
 * Process entry point: wires the stop requests (SIGINT/SIGTERM, the owner's pipe) to an abort signal
 * (common/shutdown.ts: first request, graceful stop; a signal while stopping, immediate exit) and
 * exits with the code `run` resolves to.
 */
export async function main(): Promise<void> {
  endQuietlyOnClosedOutput([process.stdout, process.stderr]);
  const stops = watchStopRequests({ stderr: process.stderr, exit: (code) => process.exit(code) });
  const code = await run(process.argv.slice(2), { signal: stops.signal });
  process.exitCode = code;
  // Everything was closed and flushed by now (stdout and stderr are synchronous for files and pipes
  // on Linux). What may still hold the event loop is a library's housekeeping: redis-parser shrinks
  // its buffer pool on a ref'd 50 ms interval after a large reply, which kept a finished
  // `upload --count 30` alive 0.3-0.7 s in every other run; a leaked handle (a worker pool's child,
  // a socket) must not keep a finished command alive either. Unref'd: a clean exit is not delayed.
  setTimeout(() => process.exit(code), exitGraceMs).unref();
}
