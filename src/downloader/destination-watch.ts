import { RuntimeFailure, errorMessage } from '../common/errors.js';
import type { EventLog } from '../common/event-log.js';
import { checkWritableDir } from '../common/writable-dir.js';

/**
 * A destination that can no longer take files (a full disk) fails every chunk alike: the first
 * failure checks it, and if it is the cause `signal` aborts and `problem` says why, so that the run
 * stops with that one error (exit 1) instead of failing chunk after chunk.
 */
export class DestinationWatch {
  problem: RuntimeFailure | undefined;
  private readonly unwritable = new AbortController();
  private checking = false;

  /** `dest` is undefined when nothing is written (`--keep none`, or no `--dir`). */
  constructor(
    private readonly dest: string | undefined,
    private readonly log: Pick<EventLog, 'diagnostic'>,
  ) {}

  get signal(): AbortSignal {
    return this.unwritable.signal;
  }

  /** Called on a chunk's failure: checks the destination once at a time. */
  check(): void {
    const { dest } = this;
    if (dest === undefined || this.checking || this.unwritable.signal.aborted) return;
    this.checking = true;
    checkWritableDir(dest, '--dir').then(
      () => {
        this.checking = false;
      },
      (error: unknown) => {
        this.problem = new RuntimeFailure(`the download stopped: ${errorMessage(error)}`, { cause: error });
        this.log.diagnostic('error', this.problem.message);
        this.unwritable.abort();
      },
    );
  }
}
