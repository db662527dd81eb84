import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ExecutorTarget } from '../../src/downloader/chunk-executor.js';
import type { PendingChunk } from '../../src/downloader/chunk-executor.js';
import { downloadJobId, transientRetryDelayMs, type ChunkOutcome, type DownloadJob, type WorkerAnswer } from '../../src/downloader/download-job.js';
import { InProcessExecutor, type InProcessExecutorOptions } from '../../src/downloader/in-process-executor.js';
import { FinalChunkError } from '../../src/downloader/process-chunk.js';

function job(name: string, corruptions = 0): DownloadJob {
  return {
    v: 1,
    run: 'run-x',
    scope: 'wavefier',
    dataset: 'ds-x',
    name,
    replica: { scope: 'wavefier', name, bytes: 4, adler32: '0000abcd', pfns: [], states: {} },
    tDetected: 1,
    relativeName: `ds-x/${name}`,
    corruptions,
  };
}

function verified(): ChunkOutcome {
  return { status: 'verified', bytes: 4, adler32: '0000abcd', md5: 'm', pfn: 'p', rse: 'R', replicaAttempts: 1, tDownloaded: 2, tVerified: 3, corruptReads: [] };
}

/** What the coordinator would be told, in order. */
class Recorder implements ExecutorTarget {
  readonly pending = new Map<string, PendingChunk>();
  readonly answers: WorkerAnswer[] = [];
  readonly failures: [string, string][] = [];
  completed(answer: WorkerAnswer): void {
    this.answers.push(answer);
  }
  failed(jobId: string, reason: string): void {
    this.failures.push([jobId, reason]);
  }
  requeue(): Promise<void> {
    return Promise.resolve();
  }
}

/** Work whose every call waits until the test releases it (or fails it). */
class ScriptedWork {
  readonly started: string[] = [];
  running = 0;
  maxRunning = 0;
  private readonly waiting = new Map<string, { resolve: (outcome: ChunkOutcome) => void; reject: (error: unknown) => void }[]>();

  readonly work = (data: DownloadJob): Promise<ChunkOutcome> => {
    this.started.push(data.name);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    return new Promise<ChunkOutcome>((resolve, reject) => {
      const list = this.waiting.get(data.name) ?? [];
      list.push({ resolve, reject });
      this.waiting.set(data.name, list);
    }).finally(() => this.running--);
  };

  async settle(name: string, result: ChunkOutcome | Error): Promise<void> {
    for (let tries = 0; tries < 200 && (this.waiting.get(name)?.length ?? 0) === 0; tries++) await sleep(5);
    const next = this.waiting.get(name)?.shift();
    if (next === undefined) throw new Error(`${name} was not started`);
    if (result instanceof Error) next.reject(result);
    else next.resolve(result);
    await sleep(1);
  }
}

function executorWith(work: ScriptedWork | InProcessExecutorOptions['work'], overrides: Partial<InProcessExecutorOptions> = {}) {
  const retries: [string, number, string][] = [];
  const errors: unknown[] = [];
  const executor = new InProcessExecutor({
    work: work instanceof ScriptedWork ? work.work : work,
    concurrency: 2,
    attempts: 3,
    onRetry: (data, attempt, error) => retries.push([data.name, attempt, error.message]),
    onError: (error) => errors.push(error),
    retryDelayMs: () => 5,
    ...overrides,
  });
  const target = new Recorder();
  executor.attach(target);
  return { executor, target, retries, errors };
}

describe('in-process executor', () => {
  it('runs at most `concurrency` chunks at a time, first come first served, and answers each with attempt 1', async () => {
    const script = new ScriptedWork();
    const { executor, target } = executorWith(script);
    await executor.add(['a', 'b', 'c', 'd', 'e'].map((name) => ({ data: job(name), delayMs: 0 })));
    expect(script.started).toEqual(['a', 'b']);
    expect(executor.queued).toBe(3);
    await script.settle('b', verified());
    expect(script.started).toEqual(['a', 'b', 'c']);
    for (const name of ['a', 'c', 'd', 'e']) await script.settle(name, verified());
    expect(script.maxRunning).toBe(2);
    expect(target.answers.map((answer) => [answer.name, answer.attempt, answer.status])).toEqual([
      ['b', 1, 'verified'],
      ['a', 1, 'verified'],
      ['c', 1, 'verified'],
      ['d', 1, 'verified'],
      ['e', 1, 'verified'],
    ]);
    expect(executor.inFlight).toBe(0);
  });

  it('tries a transient failure again after a back-off, counting the attempts, and frees its slot meanwhile', async () => {
    const script = new ScriptedWork();
    const { executor, target, retries } = executorWith(script, { concurrency: 1, retryDelayMs: () => 40 });
    await executor.add([{ data: job('x'), delayMs: 0 }, { data: job('y'), delayMs: 0 }]);
    await script.settle('x', new Error('storage answered 503'));
    // x waits for its back-off: y takes the slot.
    expect(script.started).toEqual(['x', 'y']);
    await script.settle('y', verified());
    await script.settle('x', new Error('storage answered 503 again'));
    await script.settle('x', verified());
    expect(retries).toEqual([
      ['x', 1, 'storage answered 503'],
      ['x', 2, 'storage answered 503 again'],
    ]);
    expect(target.answers.map((answer) => [answer.name, answer.attempt])).toEqual([
      ['y', 1],
      ['x', 3],
    ]);
    expect(target.failures).toEqual([]);
  });

  it('fails a chunk for good after its last attempt, with the last reason and the job id of its corruption round', async () => {
    let calls = 0;
    const { executor, target, retries } = executorWith(() => {
      calls++;
      return Promise.reject(new Error(`refused ${calls}`));
    });
    await executor.add([{ data: job('z', 1), delayMs: 0 }]);
    for (let tries = 0; tries < 100 && target.failures.length === 0; tries++) await sleep(5);
    expect(calls).toBe(3);
    expect(retries.map(([, attempt]) => attempt)).toEqual([1, 2]);
    expect(target.failures).toEqual([[downloadJobId('wavefier', 'z', 1), 'refused 3']]);
    expect(target.answers).toEqual([]);
  });

  it('fails at once what no attempt can help (a name refused, a destination that cannot take the file)', async () => {
    const readOnly = Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });
    const { executor, target, retries } = executorWith((data) =>
      Promise.reject(data.name === 'bad' ? new FinalChunkError('the name ../bad leaves --dir') : readOnly),
    );
    await executor.add([{ data: job('bad'), delayMs: 0 }, { data: { ...job('ro'), destDir: '/data/down' }, delayMs: 0 }]);
    for (let tries = 0; tries < 100 && target.failures.length < 2; tries++) await sleep(5);
    expect(retries).toEqual([]);
    expect(target.failures[0]).toEqual([downloadJobId('wavefier', 'bad', 0), 'the name ../bad leaves --dir']);
    expect(target.failures[1]?.[1]).toMatch(/^cannot write the chunk under \/data\/down: /);
  });

  it('holds a delayed chunk back without taking a slot', async () => {
    const script = new ScriptedWork();
    const { executor } = executorWith(script, { concurrency: 1 });
    await executor.add([{ data: job('later', 1), delayMs: 60 }, { data: job('now'), delayMs: 0 }]);
    expect(script.started).toEqual(['now']);
    await script.settle('now', verified());
    expect(script.started).toEqual(['now']);
    await script.settle('later', verified());
    expect(script.started).toEqual(['now', 'later']);
  });

  it('after a stop, starts nothing, delivers what finishes within the drain, and drops what finishes after it', async () => {
    const script = new ScriptedWork();
    const { executor, target, retries } = executorWith(script, { concurrency: 2, drainMs: 150, retryDelayMs: () => 20 });
    await executor.add(['a', 'b', 'c'].map((name) => ({ data: job(name), delayMs: 0 })));
    const stopping = executor.stopTaking();
    await script.settle('a', verified());
    await stopping;
    expect(target.answers.map((answer) => answer.name)).toEqual(['a']);
    // b answers after the drain: left for the next run, like a queued job; c never started.
    await script.settle('b', verified());
    await sleep(40);
    expect(target.answers.map((answer) => answer.name)).toEqual(['a']);
    expect(script.started).toEqual(['a', 'b']);
    expect(retries).toEqual([]);
  });

  it('leaves a chunk waiting for its next attempt to the next run when stopped', async () => {
    const script = new ScriptedWork();
    const { executor, target } = executorWith(script, { drainMs: 50, retryDelayMs: () => 30 });
    await executor.add([{ data: job('a'), delayMs: 0 }]);
    await script.settle('a', new Error('503'));
    await executor.stopTaking();
    await sleep(60);
    expect(script.started).toEqual(['a']);
    expect(target.failures).toEqual([]);
    expect(target.answers).toEqual([]);
  });

  it('is ready once its warm-up is done, and tells the warm-up whether chunks were already taken', async () => {
    const script = new ScriptedWork();
    const seen: boolean[] = [];
    const { executor } = executorWith(script, {
      warmUp: async (busy) => {
        seen.push(busy());
        await sleep(20);
        seen.push(busy());
      },
    });
    const ready = executor.whenReady(new AbortController().signal);
    await executor.add([{ data: job('a'), delayMs: 0 }]);
    await ready;
    expect(seen).toEqual([false, true]);
    // An aborted wait returns at once.
    const slow = executorWith(script, { warmUp: () => sleep(10_000) }).executor;
    const controller = new AbortController();
    const waiting = slow.whenReady(controller.signal);
    controller.abort();
    await waiting;
  });

  it('backs off like the queue jobs: 500 ms, then doubling', () => {
    expect([1, 2, 3, 4].map(transientRetryDelayMs)).toEqual([500, 1000, 2000, 4000]);
  });
});
