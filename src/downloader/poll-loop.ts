import { setTimeout as sleep } from 'node:timers/promises';
import { definedProps } from '../common/defined.js';
import { errorMessage } from '../common/errors.js';
import type { EventLog } from '../common/event-log.js';
import type { Output } from '../common/output.js';
import { rucioNotFound } from '../rucio/index.js';
import { DispatchFailure, type Coordinator } from './coordinator.js';
import type { ChunkExecutor } from './chunk-executor.js';
import type { DatasetPoller, PollResult } from './poller.js';
import type { PollSchedule } from './poll-schedule.js';
import type { DownloadStats } from './run-progress.js';
import { stopReason, type CatalogContact, type ClosedDatasetProbe, type RunPosition, type StopRules } from './stop-rules.js';

export interface PollLoopOptions {
  scope: string;
  dataset: string;
  poller: DatasetPoller;
  coordinator: Coordinator;
  /** Where the chunks go: it looks for lost work after each poll. */
  executor: Pick<ChunkExecutor, 'check'>;
  /** Present with --until-closed. */
  closedProbe?: ClosedDatasetProbe;
  schedule: PollSchedule;
  rules: StopRules;
  stats: DownloadStats;
  /** The first poll, sent during the set-up (its start, and the answer to come): the loop's first round takes it. */
  firstPoll?: { startedAt: number; result: Promise<PollResult> };
  /** A pause between polls ends early when the signal this returns fires (the run may be able to stop now). */
  wake?: () => AbortSignal;
  /** Told after every poll the catalog answered. */
  onPolled?: (result: PollResult) => void;
  /** Whether the catalog answers: when to give up, and whether a stopped run did its job. */
  contact: CatalogContact;
  /** Chunks an earlier run of the same log verified; they count towards --until-count. */
  alreadyVerified: number;
  startedAt: number;
  log: EventLog;
  output: Output;
  signal: AbortSignal;
  now: () => number;
}

/**
 * Polls the dataset until a stop rule holds and returns why it stopped. Each round: poll, hand the
 * new chunks to the coordinator, let the executor look for lost jobs, refresh what --until-closed
 * needs, then wait as long as the schedule says. A failed round is counted, logged and retried, until
 * the catalog has not answered for too long (then it throws), and a run that stops before the catalog
 * ever answered throws too: it has not done its job.
 */
export async function runPollLoop(options: PollLoopOptions): Promise<string> {
  const { stats, schedule, output, signal, now, contact } = options;
  let announcedWaiting = false;
  let firstPoll = options.firstPoll;
  for (;;) {
    const reason = stopReason(options.rules, runPosition(options));
    if (reason !== undefined) {
      if (reason !== 'interrupted' && contact.answeredAt === undefined) throw contact.neverAnswered(reason);
      if (announcedWaiting && stats.polls === 0) {
        output.warn(`dataset ${options.scope}:${options.dataset} never appeared: nothing was downloaded`);
        return `${reason}; the dataset never appeared`;
      }
      return reason;
    }
    const startedAt = firstPoll?.startedAt ?? now();
    const answer = firstPoll?.result ?? options.poller.poll();
    firstPoll = undefined;
    let result: PollResult | undefined;
    let polled: PollResult | undefined;
    try {
      polled = await answer;
      contact.answered(now());
    } catch (error) {
      if (rucioNotFound(error) && stats.polls === 0) {
        // The uploader at the other site has not created the dataset yet: an answer, worth a warning.
        contact.answered(now());
        if (!announcedWaiting) output.warn(`waiting for ${options.scope}:${options.dataset} to appear: the dataset does not exist (yet)`);
        announcedWaiting = true;
        await pause(schedule.delayWhileAbsent(), signal);
        continue;
      }
      stats.pollErrors++;
      const giveUp = contact.failed(error, now());
      if (giveUp !== undefined) throw giveUp;
      options.log.diagnostic('warn', 'poll failed; will poll again', { error: errorMessage(error) });
    }
    if (polled !== undefined) {
      try {
        result = await afterPoll(options, polled, startedAt);
        options.onPolled?.(result);
      } catch (error) {
        stats.pollErrors++;
        options.log.diagnostic('warn', 'poll failed; will poll again', { error: errorMessage(error) });
        output.warn(`poll of ${options.scope}:${options.dataset} failed (${errorMessage(error)}); retrying`);
      }
    }
    const scheduled = schedule.delayAfter(definedProps({ startedAt, finishedAt: now(), result }));
    // A closed dataset whose every file was handed out has nothing new to show: the run waits for the
    // chunks in flight (the last one's outcome wakes it), looking again only now and then.
    const wait = allHandedOut(options) ? Math.max(scheduled, handedOutRecheckMs) : scheduled;
    // Aborted: the next stop check says so.
    if (wait > 0) await pause(wait, options.wake === undefined ? signal : AbortSignal.any([signal, options.wake()]));
  }
}

/** One round's work after the catalog answered its poll: what a poll does, apart from when it happens. */
async function afterPoll(options: PollLoopOptions, result: PollResult, startedAt: number): Promise<PollResult> {
  const { poller, coordinator, stats, now } = options;
  stats.polls++;
  stats.pollRequests += result.requests;
  try {
    await coordinator.dispatch(result.fresh, now());
  } catch (error) {
    // Not queued (BullMQ adds a batch in one transaction): the next poll offers them again, except
    // those already answered or refused (the failure says which).
    for (const left of error instanceof DispatchFailure ? error.notQueued : result.fresh) poller.forget(left);
    throw error;
  }
  if (result.fresh.length > 0) stats.lastNewAt = now();
  await options.executor.check();
  // Whether the dataset is closed matters only once the stream may have stopped: not asked while
  // the files come as predicted (at 1 Hz that would be one more catalog request per chunk).
  let requests = result.requests;
  if (options.closedProbe !== undefined && result.fresh.length === 0 && options.schedule.quiet) {
    const probed = await options.closedProbe.refresh(startedAt);
    stats.pollRequests += probed;
    requests += probed;
  }
  // What each round cost the catalog, for anyone who wants it over a window (the benchmarks' steady state).
  options.log.diagnostic('debug', 'poll answered', {
    requests,
    fresh: result.fresh.length,
    listed: result.listed,
    full: result.full,
    ...definedProps({ look_back_ms: result.lookBackMs, sweep: result.sweep }),
  });
  return result;
}

/** How often a closed dataset whose files were all handed out is polled again, at most. */
const handedOutRecheckMs = 1000;

function allHandedOut({ closedProbe, stats, alreadyVerified }: PollLoopOptions): boolean {
  return closedProbe?.closed === true && closedProbe.length !== undefined && stats.detected + alreadyVerified >= closedProbe.length;
}

function runPosition(options: PollLoopOptions): RunPosition {
  const { stats, closedProbe } = options;
  return {
    aborted: options.signal.aborted,
    now: options.now(),
    startedAt: options.startedAt,
    verifiedTotal: stats.verified + options.alreadyVerified,
    givenUp: stats.corruptedFinal + stats.invalidFinal + stats.failedFinal,
    inFlight: options.coordinator.pending.size,
    lastNewAt: stats.lastNewAt,
    answeredAt: options.contact.answeredAt,
    datasetClosed: closedProbe?.closed ?? false,
    datasetLength: closedProbe?.length,
  };
}

/** Sleeps, or returns early when the run is aborted. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}
