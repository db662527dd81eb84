import { errorMessage } from './errors.js';
import { withinTime } from './time-limit.js';

/** How long one shutdown step (closing a queue, a worker pool, a server) may take before we move on. */
export const cleanupStepTimeoutMs = 15_000;

/**
 * Waits for a cleanup step, but not forever: a step that hangs (a worker pool whose child never
 * answers) must not keep a stopping process alive; the next steps still run.
 */
export async function boundedCleanup(step: unknown, timeoutMs = cleanupStepTimeoutMs): Promise<void> {
  await withinTime(Promise.resolve(step), timeoutMs, () => {
    throw new Error(`a shutdown step did not finish within ${timeoutMs / 1000} s; going on`);
  });
}

export type CleanupStep = () => unknown;

export interface CleanupStackOptions {
  /** Told about every step that failed or timed out; the remaining steps still run. */
  onError: (message: string) => void;
  /** Upper bound of each step (default {@link cleanupStepTimeoutMs}). */
  stepTimeoutMs?: number;
}

/**
 * What a run set up, undone in reverse order when it ends. Modelled on BullMQ's `Worker.close()`:
 * `run()` is memoised (a second call returns the same promise), every step runs even when an earlier
 * one failed or hung (each is bounded), and failures are reported, never thrown, so a stopping process
 * always reaches its exit.
 */
export class CleanupStack {
  private readonly steps: { name: string; step: CleanupStep }[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly options: CleanupStackOptions) {}

  /** Adds a step; `name` says what it undoes in the error line ("closing the upload queue"). */
  push(name: string, step: CleanupStep): void {
    if (this.running !== undefined) {
      // Set up after the stop began: undo it at once rather than leak it.
      void this.runStep(name, step);
      return;
    }
    this.steps.push({ name, step });
  }

  run(): Promise<void> {
    this.running ??= this.runAll();
    return this.running;
  }

  private async runAll(): Promise<void> {
    for (const { name, step } of this.steps.splice(0).reverse()) await this.runStep(name, step);
  }

  private async runStep(name: string, step: CleanupStep): Promise<void> {
    try {
      await boundedCleanup(Promise.resolve().then(step), this.options.stepTimeoutMs);
    } catch (error) {
      this.options.onError(`${name} failed: ${errorMessage(error)}`);
    }
  }
}
