import type { PollResult } from './poller.js';

/** What the poll loop tells the schedule about the poll it just made. */
export interface PollRound {
  /** When the poll began. */
  startedAt: number;
  /** Now: the poll, handing out its chunks and the checks after it are done. */
  finishedAt: number;
  /** Undefined when the poll failed. */
  result?: PollResult;
}

/**
 * When to poll next: the one decision about the timing of polls, apart from what a poll does (the
 * poll loop) and what it asks (the poller).
 */
export interface PollSchedule {
  /** How long to wait after a poll before the next one; 0 or less polls at once. */
  delayAfter(round: PollRound): number;
  /** How long to wait before asking again for a dataset that does not exist yet. */
  delayWhileAbsent(): number;
}

/** A poll every `intervalMs`, counted from the start of the previous one. */
export class IntervalSchedule implements PollSchedule {
  constructor(private readonly intervalMs: number) {}

  delayAfter(round: PollRound): number {
    return this.intervalMs - (round.finishedAt - round.startedAt);
  }

  delayWhileAbsent(): number {
    return this.intervalMs;
  }
}
