import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { ExitCode, InterruptedError } from './errors.js';

/**
 * One shutdown protocol for every command (STYLE.md "Shutdown"):
 * - the first SIGINT/SIGTERM, or the owner's stop request, starts a graceful stop (the abort signal
 *   every command watches);
 * - a signal while that stop is under way comes from the user (the processes we start live in
 *   process groups of their own, so a terminal's Ctrl-C never reaches them, and an owner asks them to
 *   stop through a pipe, never with a signal): it forces the exit at once, after the forced-exit
 *   hooks have written what they can (a log's `run_finished`);
 * - a process started by another wavefier process (rehearse's upload and download, the lake) is
 *   asked to stop by the end of its stdin, a pipe only the owner holds: it ends when the owner closes
 *   it and when the owner dies, even by SIGKILL, so that no child outlives its owner.
 */

/** Set in the environment of a child we own: its stdin is the owner's pipe (see ownedChild). */
export const ownerPipeEnv = 'WAVEFIER_OWNER_PIPE';

/** How a stop began: a signal from the user, or the owner's pipe (closed or broken). */
export type StopCause = NodeJS.Signals | 'owner';

/**
 * How long a graceful stop may take once nobody is left to force it: the owner is gone. A stop that
 * waits on what went with it (a Redis or a lake already stopped) would otherwise never end; then the
 * exit is forced, as by a second signal. An owner that is still there forces its child after 3-10 s
 * itself (stopOwnedChild).
 */
export const unattendedStopLimitMs = 10_000;

export interface StopRequestOptions {
  stderr: NodeJS.WritableStream;
  /** Ends the process at once (process.exit): a second signal. */
  exit: (code: number) => never;
  env?: NodeJS.ProcessEnv;
  stdin?: NodeJS.ReadableStream;
  /** Where the owner reads this process's output (default: stdout and stderr). */
  outputs?: NodeJS.WritableStream[];
  /** Told when the stop begins (for tests and for the stop clock). */
  onStop?: (cause: StopCause) => void;
  /** Default {@link unattendedStopLimitMs}. */
  unattendedStopLimitMs?: number;
}

export interface StopRequests {
  /** Aborted (with an InterruptedError) when the stop begins. */
  readonly signal: AbortSignal;
  dispose(): void;
}

const forcedExitHooks = new Set<() => void>();

/**
 * What the owner has said on its pipe. The pipe has one reader (watchStopRequests, from the start of
 * the process) and a line the owner sends is remembered: a command that asks for it later
 * (`upload --start-when-told`, still warming up when the download became ready) must not miss it.
 */
const ownerPipe = { watched: false, line: undefined as string | undefined, ended: false, text: '', listeners: new Set<() => void>() };

function heardFromOwner(chunk: Buffer | string): void {
  if (ownerPipe.line !== undefined) return;
  ownerPipe.text += chunk.toString();
  const end = ownerPipe.text.indexOf('\n');
  if (end < 0) return;
  ownerPipe.line = ownerPipe.text.slice(0, end);
  for (const listener of ownerPipe.listeners) listener();
}

function ownerPipeEnded(): void {
  ownerPipe.ended = true;
  for (const listener of ownerPipe.listeners) listener();
}

/**
 * Resolves with the first line the owner sent on its pipe (even before this was called, without its
 * newline), or with undefined when the pipe ends first (the owner stopped us or is gone: the stop
 * itself comes through the abort signal) or on the signal. Without an owner's pipe, stdin is read for
 * the line.
 */
export function whenOwnerSendsLine(signal: AbortSignal, stdin: NodeJS.ReadableStream = process.stdin): Promise<string | undefined> {
  if (!ownerPipe.watched) {
    ownerPipe.watched = true;
    stdin.on('data', heardFromOwner);
    stdin.once('end', ownerPipeEnded);
    stdin.once('close', ownerPipeEnded);
  }
  return new Promise((resolve) => {
    const done = (): void => {
      if (ownerPipe.line === undefined && !ownerPipe.ended && !signal.aborted) return;
      ownerPipe.listeners.delete(done);
      signal.removeEventListener('abort', done);
      resolve(ownerPipe.line);
    };
    ownerPipe.listeners.add(done);
    signal.addEventListener('abort', done, { once: true });
    done();
  });
}

/**
 * Registers what must happen even when the user forces the exit with a second signal: short,
 * synchronous work (a final log line). Returns the function that removes the hook again.
 */
export function onForcedExit(hook: () => void): () => void {
  forcedExitHooks.add(hook);
  return () => {
    forcedExitHooks.delete(hook);
  };
}

function runForcedExitHooks(): void {
  for (const hook of [...forcedExitHooks]) {
    try {
      hook();
    } catch {
      // Exiting anyway: a hook that fails must not keep the others from running.
    }
  }
  forcedExitHooks.clear();
}

/**
 * Wires this process's stop requests (signals, and the owner's pipe when it has one) to one abort
 * signal. Used by the CLI's entry point only; commands just watch the signal.
 */
export function watchStopRequests(options: StopRequestOptions): StopRequests {
  const env = options.env ?? process.env;
  const controller = new AbortController();
  const begin = (cause: StopCause, reason: InterruptedError): void => {
    options.onStop?.(cause);
    controller.abort(reason);
  };
  const forceExit = (code: number): never => {
    runForcedExitHooks();
    return options.exit(code);
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    const code = signal === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm;
    if (controller.signal.aborted) {
      options.stderr.write(`\nwavefier: ${signal} while stopping: exiting now\n`);
      forceExit(code);
    }
    options.stderr.write(`\nwavefier: ${signal} received, stopping gracefully (send it again to exit at once)\n`);
    begin(signal, new InterruptedError(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // Nobody is left to send the second signal: the stop is bounded instead (see unattendedStopLimitMs).
  const limitMs = options.unattendedStopLimitMs ?? unattendedStopLimitMs;
  let unattended: NodeJS.Timeout | undefined;
  const boundUnattendedStop = (why: string): void => {
    if (unattended !== undefined) return;
    unattended = setTimeout(() => {
      options.stderr.write(`wavefier: the graceful stop did not end within ${limitMs / 1000} s and ${why}: exiting now\n`);
      const reason: unknown = controller.signal.reason;
      forceExit(reason instanceof InterruptedError ? reason.exitCode : ExitCode.sigterm);
    }, limitMs);
    // A stop that ends in time exits as it would have.
    unattended.unref();
  };

  let stdin: NodeJS.ReadableStream | undefined;
  const onOwnerGone = (): void => {
    ownerPipeEnded();
    // Also when a stop is under way (the dying owner's SIGTERM came first): nobody can force it now.
    boundUnattendedStop('the wavefier process that started this one is gone');
    if (controller.signal.aborted) return;
    options.stderr.write('wavefier: stopping gracefully: asked by the wavefier process that started this one (or it is gone)\n');
    begin('owner', new InterruptedError('SIGTERM'));
  };
  if (env[ownerPipeEnv] === '1') {
    // Ours only: the processes this one starts get pipes of their own.
    Reflect.deleteProperty(env, ownerPipeEnv);
    stdin = options.stdin ?? process.stdin;
    ownerPipe.watched = true;
    stdin.on('end', onOwnerGone);
    stdin.on('close', onOwnerGone);
    stdin.on('error', onOwnerGone);
    stdin.on('data', heardFromOwner);
    // Watching the pipe must not keep a finished command alive.
    (stdin as { unref?: () => void }).unref?.();
    // The owner reads our stdout and stderr; once it is gone a write fails with EPIPE, which must not
    // end this process before its own graceful stop has written its last log line.
    const outputs: NodeJS.WritableStream[] = options.outputs ?? [process.stdout, process.stderr];
    for (const stream of outputs) stream.on('error', () => undefined);
  }

  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      stdin?.off('end', onOwnerGone);
      stdin?.off('close', onOwnerGone);
      stdin?.off('error', onOwnerGone);
      clearTimeout(unattended);
    },
  };
}

/**
 * Spawn options for a wavefier process this one owns: a process group of its own (a Ctrl-C at the
 * terminal is for the owner, which stops its children in order) and the owner's pipe as stdin.
 */
export function ownedChildOptions(env: NodeJS.ProcessEnv): SpawnOptions & { stdio: ['pipe', 'pipe', 'pipe'] } {
  return { env: { ...env, [ownerPipeEnv]: '1' }, detached: true, stdio: ['pipe', 'pipe', 'pipe'] };
}

export interface StopChildOptions {
  /** After this long, SIGTERM: the child takes it as the user's second signal and exits at once. */
  forceAfterMs: number;
  /** After this much longer, SIGKILL. */
  killAfterMs?: number;
}

/**
 * Asks an owned child to stop (closes its pipe), forces it if it has not exited after
 * `forceAfterMs`, kills it after `killAfterMs` more; resolves when it has exited.
 */
export async function stopOwnedChild(child: ChildProcess, options: StopChildOptions): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end();
  const force = setTimeout(() => child.kill('SIGTERM'), options.forceAfterMs);
  const kill = setTimeout(() => child.kill('SIGKILL'), options.forceAfterMs + (options.killAfterMs ?? 2000));
  try {
    await exited;
  } finally {
    clearTimeout(force);
    clearTimeout(kill);
  }
}

/**
 * When this process exits without having stopped an owned child (the user forced the exit), the
 * child is forced as well: its pipe closes with us, and the SIGTERM that follows is its second stop
 * request, so it exits at once after writing its own last log line.
 */
export function stopAtExit(child: ChildProcess): void {
  const force = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.on('exit', force);
  child.once('exit', () => process.off('exit', force));
}
