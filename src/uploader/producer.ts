import { setTimeout as sleep } from 'node:timers/promises';
import type { JobsOptions, Queue } from 'bullmq';
import { definedProps } from '../common/defined.js';
import { formatDuration } from '../common/duration.js';
import type { EventLog } from '../common/event-log.js';
import type { UploadChunkEvent } from '../common/log-records.js';
import { GapError, applyGapPolicy, chunkName, type Chunk, type ChunkSource, type GapDecision } from '../strain/index.js';
import { jobChunk, uploadJobId, type UploadJob } from './job.js';
import type { LocalSamples } from './local-samples.js';
import type { PacerTick } from './pacer.js';
import type { RunSettings } from './run-plan.js';
import type { RunState, SamplesConnection } from './run-state.js';
import type { RunStats } from './run-stats.js';

/** Upload jobs are retried with exponential backoff starting here (0.5 s, 1 s, 2 s, ...). */
const backoffDelayMs = 500;

/** How many times Producer.warmUp runs the code of queuing a chunk (V8 optimises code after a few runs). */
const warmUpRounds = 8;

/** A chunk ready to queue: its job and its samples. */
interface PreparedChunk {
  job: UploadJob;
  samples: Float64Array;
}

export interface ProducerDeps {
  queue: Queue;
  state: RunState;
  source: ChunkSource;
  settings: RunSettings;
  log: EventLog;
  stats: RunStats;
  attempts: number;
  now: () => number;
  /** Outcomes counted in Redis before this process started (a resumed run). */
  doneBefore: number;
  /** Where this process's own upload workers find the samples (absent: no local workers). */
  localSamples?: LocalSamples;
}

/**
 * The producer side of a run: turns the pacer's ticks into upload jobs (the samples beside them in
 * the run state), logs the chunks it skips, and at the end waits for the outcomes and reconciles so
 * that every scheduled chunk has one.
 */
export class Producer {
  enqueued = 0;
  /** Chunks whose source marks a second as failing data quality, sent or skipped (--on-dq). */
  dqFlagged = 0;
  /** Outcomes seen at the last look: they only grow, so a count below the limit needs no new look. */
  private doneSeen = 0;

  constructor(private readonly deps: ProducerDeps) {}

  async enqueue(tick: PacerTick): Promise<void> {
    const prepared = await this.prepare(tick);
    if (prepared !== undefined) await this.submit([prepared]);
  }

  /**
   * Several chunks at once (an unpaced run): their samples leave in one HSET and their jobs in one
   * pipeline (BullMQ's addBulk), where one by one each chunk cost a round trip and, per job, the
   * promise chain around it (measured alone, 16 at a time: ~30 us of Node and ~18 us of Redis CPU
   * less per job). Every chunk keeps its own job, id and outcome.
   */
  async enqueueBatch(ticks: PacerTick[]): Promise<void> {
    const prepared: PreparedChunk[] = [];
    try {
      for (const tick of ticks) {
        const chunk = await this.prepare(tick);
        if (chunk !== undefined) prepared.push(chunk);
      }
    } finally {
      // A chunk that stops the run (a gap under --on-gap fail) does not hold back those before it.
      if (prepared.length > 0) await this.submit(prepared);
    }
  }

  /** The chunk's job and samples, or undefined when the gap or data-quality policy skipped it (logged). */
  private async prepare(tick: PacerTick): Promise<PreparedChunk | undefined> {
    const { settings, source, now } = this.deps;
    const chunk = source.chunk(tick.seq);
    const name = chunkName(chunk, settings.tag);
    let decision: GapDecision;
    try {
      decision = applyGapPolicy(chunk, settings.gapPolicy);
    } catch (error) {
      if (error instanceof GapError) {
        const failed: UploadChunkEvent = { ...this.eventBase(tick, name), event: 'failed', reason: 'gap', error: error.message };
        await this.deps.state.record('failed', tick.seq, failed);
      }
      throw error;
    }
    if (decision.action === 'skip') {
      const nan = decision.gap.nanSamples;
      await this.skip(tick, 'gap', `chunk holds ${nan} NaN samples (a gap in the source; --on-gap skip)`, name);
      return undefined;
    }
    if (chunk.dqFailedSeconds !== undefined && chunk.dqFailedSeconds > 0) {
      this.dqFlagged++;
      if (settings.dqPolicy === 'skip') {
        await this.skip(tick, 'dq', `${chunk.dqFailedSeconds} of its seconds fail the source's data quality (--on-dq skip)`, name);
        return undefined;
      }
    }
    return { job: this.jobFor(tick, chunk, name, now()), samples: chunk.samples };
  }

  private jobFor(tick: PacerTick, chunk: Chunk, name: string, tEnqueued: number): UploadJob {
    const { settings } = this.deps;
    return {
      v: 2,
      run: settings.runId,
      seq: tick.seq,
      name,
      gps: chunk.gpsStart,
      scope: settings.scope,
      dataset: settings.dataset,
      rse: settings.rse,
      tag: settings.tag,
      ...definedProps({ uploadMode: settings.uploadMode }),
      tAvail: tick.tAvail,
      tEnqueued,
      late: tick.late,
      chunk: jobChunk(chunk),
    };
  }

  /**
   * Runs what queuing chunk `seq` runs before anything is sent (reading it from the source, its
   * name, the gap check, its job) a few times and keeps nothing, so that the first chunk of the
   * run does not pay for that code's first runs: chunk 0 took 1-2 ms longer than the next ones
   * from its due time to its job leaving for Redis. Writes nothing, logs nothing, never throws.
   */
  warmUp(seq: number, rounds = warmUpRounds): void {
    const { settings, source, now } = this.deps;
    for (let round = 0; round < rounds; round++) {
      try {
        const chunk = source.chunk(seq);
        const name = chunkName(chunk, settings.tag);
        const tick: PacerTick = { seq, tAvail: now(), late: false };
        applyGapPolicy(chunk, settings.gapPolicy);
        this.jobFor(tick, chunk, name, now());
      } catch {
        // A chunk that cannot be queued meets the same problem when its turn comes, and is reported then.
        return;
      }
    }
  }

  /**
   * The chunks' samples, then their jobs, on the queue's connection without waiting in between (one
   * round trip for both, where waiting for the samples first cost two): Redis applies them in the
   * order they were sent, so a worker that takes a job finds its samples. (A MULTI would make
   * them atomic, but ioredis builds a pipeline object per transaction, copying every BullMQ script
   * onto it: ~0.3 ms per chunk.) Samples that Redis refused take the jobs back out: a job without
   * samples reads as a chunk already done.
   */
  private async submit(chunks: PreparedChunk[]): Promise<void> {
    const { queue, state, settings } = this.deps;
    const connection = await queue.backend.client;
    for (const { job, samples } of chunks) this.deps.localSamples?.put(settings.runId, job.seq, samples);
    const stored = state.putSamplesOn(
      connection as unknown as SamplesConnection,
      chunks.map(({ job, samples }) => ({ seq: job.seq, samples })),
    );
    const added =
      chunks.length === 1 && chunks[0] !== undefined
        ? queue.add('chunk', chunks[0].job, this.jobOptions(chunks[0].job.seq))
        : queue.addBulk(chunks.map(({ job }) => ({ name: 'chunk', data: job, opts: this.jobOptions(job.seq) })));
    const [samplesOutcome, jobOutcome] = await Promise.allSettled([stored, added]);
    if (samplesOutcome.status === 'rejected') {
      for (const { job } of chunks) {
        this.deps.localSamples?.drop(settings.runId, job.seq);
        // Every id, also after a partial failure: removing a job that is not there is harmless.
        if (jobOutcome.status === 'fulfilled' || chunks.length > 1) await queue.remove(uploadJobId(settings.runId, job.seq)).catch(() => undefined);
      }
      throw samplesOutcome.reason;
    }
    if (jobOutcome.status === 'rejected') throw jobOutcome.reason;
    for (const { job } of chunks) {
      this.enqueued++;
      this.deps.stats.enqueued(job.tEnqueued - job.tAvail);
    }
    // Where a resumed run starts, renewed now and then (past every chunk just queued).
    const last = chunks.at(-1)?.job.seq ?? 0;
    if (chunks.some(({ job }) => job.seq % 64 === 0)) await state.setNext(last + 1);
  }

  private jobOptions(seq: number): JobsOptions {
    return {
      jobId: uploadJobId(this.deps.settings.runId, seq),
      attempts: this.deps.attempts,
      backoff: { type: 'exponential', delay: backoffDelayMs },
      // The worker has logged the outcome by the time a job completes or fails: keep Redis bounded.
      removeOnComplete: true,
      removeOnFail: true,
    };
  }

  async skip(tick: PacerTick, reason: 'late' | 'gap' | 'dq', error: string, knownName?: string): Promise<void> {
    const name = knownName ?? chunkName(this.deps.source.chunk(tick.seq), this.deps.settings.tag);
    const skipped: UploadChunkEvent = { ...this.eventBase(tick, name), event: 'skipped', reason, error };
    await this.deps.state.record('skipped', tick.seq, skipped);
  }

  private eventBase(tick: PacerTick, name: string): Omit<UploadChunkEvent, 'event'> {
    const { settings } = this.deps;
    return {
      run: settings.runId,
      seq: tick.seq,
      name,
      scope: settings.scope,
      dataset: settings.dataset,
      rse: settings.rse,
      gps: settings.gpsStart + tick.seq * settings.duration,
      t_avail: tick.tAvail,
      late: tick.late,
    };
  }

  /** Chunks this process enqueued that no worker (on any host) has finished, given the run's counters. */
  inQueue(counts: Record<string, number>): number {
    return this.enqueued - this.doneHere(counts);
  }

  /** Uploads and failures recorded since this process started (skipped chunks were never enqueued). */
  private doneHere(counts: Record<string, number>): number {
    return (counts.uploaded ?? 0) + (counts.failed ?? 0) - this.deps.doneBefore;
  }

  /** Back-pressure for unpaced runs: waits while too many chunks sit in Redis unprocessed. */
  async waitForRoom(maxOutstanding: number, signal: AbortSignal): Promise<void> {
    while (this.enqueued - this.doneSeen >= maxOutstanding && !signal.aborted) {
      this.doneSeen = this.doneHere(await this.deps.state.counts());
      if (this.enqueued - this.doneSeen < maxOutstanding) return;
      await sleep(5);
    }
  }

  /** Waits until every chunk below `until` has an outcome, or the timeout passes. */
  async drain(until: number, timeoutMs: number): Promise<void> {
    const deadline = this.deps.now() + timeoutMs;
    while (this.deps.now() < deadline) {
      if ((await this.deps.state.unaccounted(until)).length === 0) return;
      await sleep(50);
    }
  }

  /**
   * Makes sure no chunk is silently lost: a chunk with no outcome whose job is gone from the queue (a
   * Redis restart without persistence, a job removed by hand) is enqueued again; whatever still has no
   * outcome after a second drain is logged as failed, with the reason.
   */
  async reconcile(until: number, timeoutMs: number): Promise<void> {
    const { queue, state, settings, log } = this.deps;
    const missing = await state.unaccounted(until);
    if (missing.length === 0) return;
    for (const seq of missing) {
      const jobState = await queue.getJobState(uploadJobId(settings.runId, seq));
      if (jobState === 'unknown' || jobState === 'completed' || jobState === 'failed') {
        log.diagnostic('warn', 'chunk lost from the queue, enqueuing it again', { seq });
        await queue.remove(uploadJobId(settings.runId, seq)).catch(() => undefined);
        // Unpaced runs have no schedule to recover t_avail from: the chunk is available again now.
        const tAvail = settings.intervalMs === 0 ? this.deps.now() : settings.t0 + seq * settings.intervalMs;
        await this.enqueue({ seq, tAvail, late: true });
      }
    }
    await this.drain(until, timeoutMs);
    for (const seq of await state.unaccounted(until)) {
      // Take the job out first: a chunk logged as failed must not be uploaded behind the log's back.
      await queue.remove(uploadJobId(settings.runId, seq)).catch(() => undefined);
      const chunk = this.deps.source.chunk(seq);
      const failed: UploadChunkEvent = {
        ...this.eventBase({ seq, tAvail: settings.t0 + seq * settings.intervalMs, late: false }, chunkName(chunk, settings.tag)),
        event: 'failed',
        error: `not uploaded within the drain timeout (${formatDuration(timeoutMs)}) after the last chunk; is an upload worker running?`,
      };
      await state.record('failed', seq, failed);
    }
  }
}
