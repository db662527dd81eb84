import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventLog } from '../common/event-log.js';
import { childEnv, wavefierExecutable } from '../common/installation.js';
import { ownedChildOptions } from '../common/shutdown.js';
import { chunkShapeLine, type ChunkShapeAnnouncement } from '../common/stream-schedule.js';
import type { Output } from '../common/output.js';

/** The download's own Rucio settings reach its worker processes through this variable (never through Redis or argv). */
export const downloadWorkerRucioEnv = 'WAVEFIER_DOWNLOAD_WORKER_RUCIO';

export interface WorkerPoolOptions {
  /** Worker processes to keep running. */
  workers: number;
  /** Chunks each process fetches at the same time. */
  concurrency: number;
  redisUrl: string;
  queueName: string;
  /** The workers note retries under `<logDir>/<run>/`. */
  logDir: string;
  /** Plain Rucio settings, handed over in the environment. */
  rucioSettings: unknown;
  env?: NodeJS.ProcessEnv;
  /** Where the pool notes what its processes say on stderr and when one exits. */
  log: Pick<EventLog, 'diagnostic'>;
  output: Pick<Output, 'warn'>;
}

/** Chunks each local worker process fetches at the same time. */
export const defaultWorkerConcurrency = 2;

/** How long a worker process may take to start (load its modules, connect) before the run goes on without it. */
const readyTimeoutMs = 30_000;
/** A worker process that dies is replaced after this pause, at most this many times a minute. */
const restartDelayMs = 500;
const maxRestartsPerMinute = 10;

interface WorkerProcess {
  child: ChildProcess;
  ready: boolean;
}

/**
 * The download's worker processes on this host: `wavefier download-worker` processes that take jobs
 * from the run's queue straight from Redis (jobs and answers never pass through this process). A
 * process that dies (a crash, a kill -9) is replaced; its job comes back to the queue by itself (BullMQ's
 * stalled-job check) and another worker takes it. Each process stops when this one closes its stdin,
 * so none outlives the download, even one killed with SIGKILL.
 */
export class DownloadWorkerPool {
  private readonly processes = new Set<WorkerProcess>();
  private readonly restarts: number[] = [];
  private closing = false;
  private readyCount = 0;
  /** The chunk shape line every worker process is told, those started later included. */
  private shapeLine: string | undefined;

  constructor(private readonly options: WorkerPoolOptions) {}

  /**
   * Tells every worker process, and any started later, the shape of the chunks to come (one line on
   * its stdin: `download-worker` prepares its decoder for it); returns how many were told now.
   */
  tellChunkShape(shape: ChunkShapeAnnouncement): number {
    this.shapeLine = chunkShapeLine(shape);
    for (const { child } of this.processes) child.stdin?.write(this.shapeLine);
    return this.processes.size;
  }

  /** Starts the worker processes; they connect in the background (see whenReady). */
  start(): void {
    for (let index = 0; index < this.options.workers; index++) this.spawnOne();
  }

  /** Worker processes connected and warm. */
  get ready(): number {
    return this.readyCount;
  }

  /** Waits until every worker process said it is ready (or the timeout passed, or the signal fired). */
  async whenReady(signal: AbortSignal): Promise<number> {
    const deadline = Date.now() + readyTimeoutMs;
    while (this.readyCount < this.options.workers && Date.now() < deadline && !signal.aborted && !this.closing) await sleep(10);
    return this.readyCount;
  }

  private spawnOne(): void {
    const { options } = this;
    const args = [
      wavefierExecutable(),
      '--json',
      'download-worker',
      '--redis', options.redisUrl,
      '--queue', options.queueName,
      '--workers', String(options.concurrency),
      '--log-dir', options.logDir,
    ];
    // Its own process group and this process's pipe as stdin (common/shutdown.ts): a Ctrl-C reaches
    // the download, which stops its workers in order; if the download dies, the workers stop too.
    const child = spawn(process.execPath, args, ownedChildOptions(childEnv({ ...(options.env ?? process.env), [downloadWorkerRucioEnv]: JSON.stringify(options.rucioSettings) })));
    const entry: WorkerProcess = { child, ready: false };
    this.processes.add(entry);
    if (this.shapeLine !== undefined) child.stdin.write(this.shapeLine);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('"chunk_shape_prepared"')) {
        options.log.diagnostic('info', 'download worker process prepared for the announced chunk shape', { pid: child.pid, prepared: line.includes('"prepared":true') });
        return;
      }
      if (entry.ready || !line.includes('"ready"')) return;
      entry.ready = true;
      this.readyCount++;
    });
    createInterface({ input: child.stderr }).on('line', (line) => {
      if (line.trim() === '' || this.closing) return;
      options.log.diagnostic('info', 'download worker process', { pid: child.pid, line });
    });
    child.stdin.on('error', () => undefined);
    child.on('error', (error) => options.log.diagnostic('error', 'could not start a download worker process', { error: error.message }));
    child.on('exit', (code, signal) => {
      this.processes.delete(entry);
      if (entry.ready) this.readyCount--;
      if (this.closing) return;
      options.log.diagnostic('warn', 'a download worker process exited; starting another', { pid: child.pid, code, signal });
      options.output.warn(`download worker process ${child.pid ?? '?'} exited (${signal ?? `code ${code ?? '?'}`}); starting another`);
      this.replace();
    });
  }

  private replace(): void {
    const now = Date.now();
    while (this.restarts.length > 0 && now - (this.restarts[0] ?? now) > 60_000) this.restarts.shift();
    if (this.restarts.length >= maxRestartsPerMinute) {
      this.options.output.warn(`download worker processes keep exiting (${maxRestartsPerMinute} in a minute): not starting more; see the download log`);
      return;
    }
    this.restarts.push(now);
    setTimeout(() => {
      if (!this.closing) this.spawnOne();
    }, restartDelayMs).unref();
  }

  /**
   * Stops every worker process: closing its stdin asks it to stop (the chunks it holds go back to the
   * queue for the next run); one that is still there after `graceMs` is killed. One that is not ready
   * yet is killed at once: it is still loading its modules or warming up, and the run that closes the
   * pool has the answers of the chunks it needed, or waited for the ones in flight after a Ctrl-C;
   * waiting for it to finish loading would only delay the exit.
   */
  async close(graceMs = 5000): Promise<void> {
    this.closing = true;
    const exits = [...this.processes].map(
      ({ child, ready }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
          }
          const timer = setTimeout(() => child.kill('SIGKILL'), ready ? graceMs : 0);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.stdin?.end();
        }),
    );
    await Promise.all(exits);
  }
}
