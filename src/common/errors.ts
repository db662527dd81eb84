/**
 * Error contract shared by every module: each error carries a stable `code`, the process exit
 * code the CLI maps it to, and whether retrying the same operation may succeed.
 * Messages say what failed, with which value, and what to do about it; they never contain secrets.
 */

export const ExitCode = {
  ok: 0,
  runtime: 1,
  usage: 2,
  integrity: 3,
  /** A run stopped early with everything it produced intact: neither a pass nor an integrity failure. */
  incomplete: 4,
  /**
   * No verdict: one side of a rehearsal is missing (no upload log of the run, no download log) or
   * nothing was uploaded, so the logs cannot say whether every chunk arrived: neither pass nor fail.
   */
  noVerdict: 5,
  /** `report`, `rehearse`: every chunk intact, but a latency objective (--slo) was missed. */
  latency: 6,
  sigint: 130,
  sigterm: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface WavefierErrorOptions {
  cause?: unknown;
  /** Overrides the subclass default, e.g. a transient failure that the caller knows is final. */
  retryable?: boolean;
}

export class WavefierError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly retryable: boolean;

  constructor(
    message: string,
    defaults: { code: string; exitCode: ExitCode; retryable: boolean },
    options: WavefierErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = defaults.code;
    this.exitCode = defaults.exitCode;
    this.retryable = options.retryable ?? defaults.retryable;
  }
}

/** A flag, argument or combination of them that cannot work. Exit 2. */
export class UsageError extends WavefierError {
  constructor(message: string, options?: WavefierErrorOptions) {
    super(message, { code: 'usage', exitCode: ExitCode.usage, retryable: false }, options);
  }
}

/** A configuration file or environment value that is missing or invalid. Exit 2. */
export class ConfigError extends WavefierError {
  constructor(message: string, options?: WavefierErrorOptions) {
    super(message, { code: 'config', exitCode: ExitCode.usage, retryable: false }, options);
  }
}

/** An input file the user gave us that cannot be used (not HDF5, truncated, wrong layout). Exit 2. */
export class InputError extends WavefierError {
  readonly file: string | undefined;
  constructor(message: string, options?: WavefierErrorOptions & { file?: string }) {
    super(message, { code: 'input', exitCode: ExitCode.usage, retryable: false }, options);
    this.file = options?.file;
  }
}

/** Something that exists nowhere it was looked for (a DID, an RSE, a run). Exit 1. */
export class NotFoundError extends WavefierError {
  constructor(message: string, options?: WavefierErrorOptions) {
    super(message, { code: 'not-found', exitCode: ExitCode.runtime, retryable: false }, options);
  }
}

/** A failure that may go away on its own: a 503, a reset connection, a restarting Redis. Exit 1. */
export class TransientError extends WavefierError {
  constructor(message: string, options?: WavefierErrorOptions) {
    super(message, { code: 'transient', exitCode: ExitCode.runtime, retryable: true }, options);
  }
}

/** A service we depend on is not there at all (Redis down, lake unreachable). Exit 1. */
export class UnavailableError extends WavefierError {
  constructor(message: string, options?: WavefierErrorOptions) {
    super(message, { code: 'unavailable', exitCode: ExitCode.runtime, retryable: true }, options);
  }
}

/** A generic runtime failure that is not the user's input and not likely to pass on retry. Exit 1. */
export class RuntimeFailure extends WavefierError {
  constructor(message: string, options?: WavefierErrorOptions) {
    super(message, { code: 'runtime', exitCode: ExitCode.runtime, retryable: false }, options);
  }
}

/** Data that does not match what it claims to be: checksum mismatch, missing or corrupted chunks. Exit 3. */
export class IntegrityError extends WavefierError {
  constructor(message: string, options?: WavefierErrorOptions) {
    super(message, { code: 'integrity', exitCode: ExitCode.integrity, retryable: false }, options);
  }
}

/** The run was interrupted by a signal; the exit code follows the shell convention (128 + signal). */
export class InterruptedError extends WavefierError {
  readonly signal: NodeJS.Signals;
  constructor(signal: NodeJS.Signals) {
    super(
      `interrupted by ${signal}`,
      { code: 'interrupted', exitCode: signal === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm, retryable: false },
    );
    this.signal = signal;
  }
}

export function isWavefierError(error: unknown): error is WavefierError {
  return error instanceof WavefierError;
}

/** The message of any thrown value, for log lines and one-line CLI errors. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}
