import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../common/errors.js';
import type { ChunkShapeAnnouncement } from '../common/stream-schedule.js';
import type { ChunkExecutor, ExecutorJob, ExecutorTarget, ReadyNote } from './chunk-executor.js';
import { downloadJobId, transientRetryDelayMs, type ChunkOutcome, type DownloadJob } from './download-job.js';
import { finalFailure } from './process-chunk.js';

/** After a Ctrl-C: how long chunks in flight may take (the queue's workers get as long: interrupted-stop.ts). */
const interruptedDrainMs = 2000;

export interface InProcessExecutorOptions {
  /** Fetches and verifies one chunk: processChunk with the run's Rucio client. */
  work: (data: DownloadJob) => Promise<ChunkOutcome>;
  /** Chunks fetched and verified at the same time. */
  concurrency: number;
  /** Attempts per chunk for transient failures. */
  attempts: number;
  /** Before the first chunk: what makes it as fast as the others; `busy` says whether chunks were taken meanwhile. */
  warmUp?: (busy: () => boolean) => Promise<void>;
  /** The producer announced its chunks' shape: prepares the decoder for it, resolves to whether it did. */
  expectChunkShape?: (shape: ChunkShapeAnnouncement) => Promise<boolean>;
  /** An attempt failed and another follows after a back-off. */
  onRetry: (data: DownloadJob, attempt: number, error: Error) => void;
  /** The coordinator failed to take an answer (a log that cannot be written): nothing else can say so. */
  onError: (error: unknown) => void;
  /** Back-off before attempt `attempt + 1` (default: BullMQ's exponential back-off of the queue's jobs). */
  retryDelayMs?: (attempt: number) => number;
  drainMs?: number;
}

interface Task {
  data: DownloadJob;
  /** This attempt's number, from 1. */
  attempt: number;
}

/**
 * Fetches and verifies chunks inside the download process (`download --workers 0`): no Redis, no
 * queue, no worker process, for a finite batch or a host with one core to spare. At most
 * `concurrency` chunks at a time, in the order they came; a transient failure is tried again after
 * the same back-off as a queue job's, up to `attempts` attempts; a chunk no attempt can help fails at
 * once. Answers reach the coordinator as a worker process's would, with the attempt counted from 1.
 */
export class InProcessExecutor implements ChunkExecutor {
  private target: ExecutorTarget | undefined;
  /** Tasks to start, first in first out (`head` is the next one: a batch of thousands is not shifted). */
  private waiting: Task[] = [];
  private head = 0;
  /** Tasks held back: a retry's back-off, a corrupted chunk's delay. */
  private readonly held = new Set<NodeJS.Timeout>();
  private running = 0;
  private taken = 0;
  /** No task starts any more (a Ctrl-C, or the end of the run). */
  private stopped = false;
  /** No answer is delivered any more: what is still in flight is left for the next run. */
  private closed = false;

  constructor(private readonly options: InProcessExecutorOptions) {}

  attach(target: ExecutorTarget): void {
    this.target = target;
  }

  /** Chunks being fetched or verified now. */
  get inFlight(): number {
    return this.running;
  }

  /** Chunks waiting for a free slot or for their delay to pass. */
  get queued(): number {
    return this.waiting.length - this.head + this.held.size;
  }

  add(jobs: readonly ExecutorJob[]): Promise<void> {
    for (const { data, delayMs } of jobs) this.enqueue({ data, attempt: 1 }, delayMs);
    this.pump();
    return Promise.resolve();
  }

  /** Nothing can be lost: every task's promise settles here. */
  check(): Promise<void> {
    return Promise.resolve();
  }

  async whenReady(signal: AbortSignal): Promise<void> {
    if (this.options.warmUp === undefined) return;
    const warm = this.options.warmUp(() => this.taken > 0).catch(() => undefined);
    const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([warm, aborted]);
  }

  async expectChunkShape(shape: ChunkShapeAnnouncement): Promise<string | undefined> {
    return (await this.options.expectChunkShape?.(shape)) === true ? 'this process' : undefined;
  }

  readyNote(): ReadyNote {
    return {
      settings: { workers_ready: 0, verify: 'in-process', concurrency: this.options.concurrency },
      text: `verifying in this process, ${this.options.concurrency} chunks at a time`,
    };
  }

  verifiedBy(): string {
    return `this process, ${this.options.concurrency} chunks at a time`;
  }

  async stopTaking(): Promise<void> {
    this.stopped = true;
    this.clearHeld();
    const deadline = Date.now() + (this.options.drainMs ?? interruptedDrainMs);
    while (this.running > 0 && Date.now() < deadline) await sleep(10);
    this.closed = true;
  }

  /** Starts nothing more and delivers nothing more (the run ended). */
  close(): void {
    this.stopped = true;
    this.closed = true;
    this.clearHeld();
  }

  private enqueue(task: Task, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) {
      this.waiting.push(task);
      return;
    }
    const timer = setTimeout(() => {
      this.held.delete(timer);
      this.waiting.push(task);
      this.pump();
    }, delayMs);
    this.held.add(timer);
  }

  private pump(): void {
    while (!this.stopped && this.running < Math.max(1, this.options.concurrency) && this.head < this.waiting.length) {
      const task = this.waiting[this.head++];
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting = this.waiting.slice(this.head);
        this.head = 0;
      }
      if (task === undefined) continue;
      this.running++;
      this.taken++;
      this.run(task)
        .catch((error: unknown) => this.options.onError(error))
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }

  private async run(task: Task): Promise<void> {
    const { data, attempt } = task;
    let outcome: ChunkOutcome;
    try {
      outcome = await this.options.work(data);
    } catch (error) {
      if (this.closed) return;
      const final = finalFailure(error, data);
      if (final === undefined && attempt < this.options.attempts && !this.stopped) {
        this.options.onRetry(data, attempt, error instanceof Error ? error : new Error(errorMessage(error)));
        this.enqueue({ data, attempt: attempt + 1 }, (this.options.retryDelayMs ?? transientRetryDelayMs)(attempt));
        return;
      }
      // Stopped by a Ctrl-C before its next attempt: left for the next run, like a queue job waiting for its retry.
      if (final === undefined && attempt < this.options.attempts) return;
      this.target?.failed(downloadJobId(data.scope, data.name, data.corruptions), final ?? errorMessage(error));
      return;
    }
    if (this.closed) return;
    this.target?.completed({ ...outcome, name: data.name, corruptions: data.corruptions, attempt });
  }

  private clearHeld(): void {
    for (const timer of this.held) clearTimeout(timer);
    this.held.clear();
  }
}
