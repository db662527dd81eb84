import type { StreamSchedule } from '../common/stream-schedule.js';
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

/** A producer's schedule, told before its first file exists: the file at position `firstK` is due at `t0`, the next ones every `intervalMs`. */
export interface AnnouncedStream {
  t0: number;
  intervalMs: number;
  firstK: number;
}

/** The announced stream of a producer's schedule: positions as in its chunk names (GPS start over duration). */
export function announcedStream(schedule: StreamSchedule): AnnouncedStream {
  return { t0: schedule.t0, intervalMs: schedule.interval_ms, firstK: schedule.gps_start / schedule.duration_s };
}

/** How the polls of a run went, for the summary. */
export interface PollCounters {
  /** Polls that found at least one new file. */
  hits: number;
  /** Polls that found nothing new. */
  misses: number;
  /** Polls made for a predicted arrival (first try), and quick follow-ups after such a poll missed. */
  targeted: number;
  followUps: number;
  /** Times the schedule locked onto the stream's phase, and lost it again. */
  locks: number;
  losses: number;
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
  /** A file was verified; `tAvail` is its own due time when it has one (a wavefier chunk). */
  verified?(name: string, tAvail: number | undefined): void;
  /** The download is ready (first poll answered, workers connected): a rehearsal starts its upload's clock now. */
  ready?(at: number): void;
  /** The producer told its schedule in advance (rehearse relays its upload's), at `at`. */
  expect?(stream: AnnouncedStream, at: number): void;
  /** Whether the stream may have stopped (then it is worth asking whether the dataset is closed). */
  readonly quiet: boolean;
  readonly counters: PollCounters;
}

export function newCounters(): PollCounters {
  return { hits: 0, misses: 0, targeted: 0, followUps: 0, locks: 0, losses: 0 };
}

export function count(counters: PollCounters, round: PollRound): void {
  if (round.result === undefined) return;
  if (round.result.fresh.length > 0) counters.hits++;
  else counters.misses++;
}

/** A poll every `intervalMs`, counted from the start of the previous one. */
export class IntervalSchedule implements PollSchedule {
  readonly counters = newCounters();
  readonly quiet = true;

  constructor(private readonly intervalMs: number) {}

  delayAfter(round: PollRound): number {
    count(this.counters, round);
    return this.intervalMs - (round.finishedAt - round.startedAt);
  }

  delayWhileAbsent(): number {
    return this.intervalMs;
  }
}
