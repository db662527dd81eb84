import { ArrivalModel, isRegular, streamPosition, type StreamFit } from './poll-phase.js';
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
  /** Whether the stream may have stopped (then it is worth asking whether the dataset is closed). */
  readonly quiet: boolean;
  readonly counters: PollCounters;
}

function newCounters(): PollCounters {
  return { hits: 0, misses: 0, targeted: 0, followUps: 0, locks: 0, losses: 0 };
}

function count(counters: PollCounters, round: PollRound): void {
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

export interface PhaseLockOptions {
  /** The plain interval: before the stream is learned, when it is irregular, and after a lock is lost. */
  intervalMs: number;
  /** Each decision, for the debug log. */
  onDecision?: (decision: string, fields: Record<string, unknown>) => void;
}

/** After a poll at a predicted arrival missed, the next polls come this much later each (for half a period at most). */
const followUpsMs = [4, 4, 8, 16, 32, 64];
/** Polls at predictions are at least this far apart (a faster stream is polled every few chunks). */
const minSpacingMs = 40;
/** Predicted arrivals in a row that never came before the lock counts as lost (a pause, a gap, the end). */
const missedToLose = 3;
/** A lost lock is taken up again no sooner than this, or this many periods (arrivals too erratic to follow are polled every interval). */
const relockAfterMs = 1000;
const relockAfterPeriods = 5;
/** The guard stays below this many periods. */
const maxGuardPeriods = 10;
/**
 * A download that starts before its stream (its first poll finds the dataset empty) polls this often
 * until it has locked on, for this long at most after it is ready (or after its first answered poll,
 * whichever is later: worker processes may take seconds to start on a busy host): chunk 0 is usually
 * close (a rehearsal starts the upload's clock once the download is ready), and chunk 1 gives the period.
 */
const acquireEveryMs = 20;
const acquireForMs = 3000;
/** Streams faster than this are polled every interval: a poll per few chunks costs more than it saves. */
const minLockPeriodMs = 20;
/**
 * The guard (how long after a predicted arrival the poll goes out) follows the arrivals. After a
 * poll at a prediction found its file, the next poll comes a little earlier: 0.25 ms, twice that
 * after each further hit in a row, up to 8 ms or an eighth of the period (so a guard learned from
 * slow first chunks, or from a backlog that has drained since, comes down quickly). After one
 * missed, the guard moves at least 4 ms and half-way towards when the file was found (so a slowing
 * upload is followed). About four polls in five find their file at once; the fifth costs a follow-up.
 */
const guardDownMs = 0.25;
const guardDownMaxMs = 8;
const guardUpMs = 4;

type State = 'acquiring' | 'locked' | 'lost';

interface Target {
  k: number;
  at: number;
  /** Follow-ups made after the poll at `at` missed. */
  followUps: number;
}

/**
 * Phase-locked polling: learns the period and phase of the stream (ArrivalModel) and polls just
 * after each predicted arrival; a miss is followed up quickly with a short, bounded back-off, then the
 * plain interval until the file comes. Before the stream is learned, when it is irregular (several
 * producers, official uploads), and after predicted arrivals stopped coming, it polls every interval;
 * a lock is found again as soon as the new arrivals line up. The minute reconciliation of the poller
 * stays, so nothing is missed whatever the schedule does.
 */
export class PhaseLockedSchedule implements PollSchedule {
  readonly counters = newCounters();
  private readonly model = new ArrivalModel();
  private state: State = 'acquiring';
  private lastPollStart: number | undefined;
  private firstAnswerAt: number | undefined;
  private readyAt: number | undefined;
  /** Whether the first answered poll found the dataset empty (the stream had not begun). */
  private startedEmpty = false;
  private guard = 0;
  private target: Target | undefined;
  /** A predicted file given up on after its follow-ups and not seen since. */
  private overdue: number | undefined;
  private missedInRow = 0;
  private hitsInRow = 0;
  private lostAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: PhaseLockOptions) {}

  delayWhileAbsent(): number {
    return this.options.intervalMs;
  }

  ready(at: number): void {
    this.readyAt = at;
  }

  verified(name: string, tAvail: number | undefined): void {
    const k = streamPosition(name);
    if (k === undefined) return;
    if (tAvail === undefined) this.model.withoutDue();
    else this.model.due(k, tAvail);
  }

  /** Whether the stream may have stopped: no lock, or a predicted file that did not come. */
  get quiet(): boolean {
    return this.state !== 'locked' || this.overdue !== undefined;
  }

  delayAfter(round: PollRound): number {
    count(this.counters, round);
    const { startedAt, finishedAt, result } = round;
    if (result === undefined) return this.decide('failed poll', this.options.intervalMs - (finishedAt - startedAt));
    if (this.firstAnswerAt === undefined) {
      this.firstAnswerAt = startedAt;
      this.startedEmpty = result.fresh.length === 0;
    }
    for (const replica of result.fresh) {
      const k = streamPosition(replica.name);
      if (k !== undefined) this.model.seen(k, this.lastPollStart, startedAt);
    }
    this.lastPollStart = startedAt;
    const fit = this.model.fit();
    this.updateState(fit, finishedAt);
    if (this.state !== 'locked' || fit === undefined) return this.unlockedDelay(startedAt, finishedAt);
    return this.lockedDelay(fit, startedAt, finishedAt, result.fresh.length > 0);
  }

  private updateState(fit: StreamFit | undefined, now: number): void {
    const regular = fit !== undefined && fit.period >= minLockPeriodMs && isRegular(fit, this.counters.losses >= missedToLose);
    if (this.state === 'locked' && !regular) {
      this.state = 'acquiring';
      this.target = undefined;
      this.note('unlocked: the arrivals no longer follow a line', fit, now);
    } else if (this.state !== 'locked' && regular && !(this.state === 'lost' && now - this.lostAt < Math.max(relockAfterMs, relockAfterPeriods * fit.period))) {
      const wasLost = this.state === 'lost';
      this.state = 'locked';
      this.counters.locks++;
      this.missedInRow = 0;
      this.overdue = undefined;
      this.target = undefined;
      // From the earliest arrival seen: polls start on time and the guard comes down from there.
      if (!wasLost) this.guard = this.clampGuard(this.model.earliestOffset(fit) ?? 0, fit);
      this.note(wasLost ? 'locked again' : 'locked', fit, now);
    }
  }

  private unlockedDelay(startedAt: number, finishedAt: number): number {
    const elapsed = finishedAt - startedAt;
    const acquiringSince = this.firstAnswerAt === undefined ? undefined : Math.max(this.firstAnswerAt, this.readyAt ?? this.firstAnswerAt);
    if (this.state === 'acquiring' && this.startedEmpty && this.counters.locks === 0 && acquiringSince !== undefined && startedAt - acquiringSince < acquireForMs) {
      return this.decide('acquire', acquireEveryMs - elapsed);
    }
    return this.decide(this.state === 'lost' ? 'interval (lock lost)' : 'interval', this.options.intervalMs - elapsed);
  }

  private lockedDelay(fit: StreamFit, startedAt: number, finishedAt: number, found: boolean): number {
    const lastK = this.model.lastK;
    const target = this.target;
    if (this.overdue !== undefined && lastK !== undefined && lastK >= this.overdue) this.overdue = undefined;
    if (found && target !== undefined && lastK !== undefined && lastK > target.k) {
      // Files due after the one polled for were there already: the arrivals are earlier than the
      // guard says (a backlog drained). The newest one arrived no later than this poll.
      this.guard = this.clampGuard(Math.min(this.guard, startedAt - (this.predicted(fit, lastK) - this.guard)), fit);
    }
    if (target !== undefined && startedAt >= target.at - 1) {
      const arrived = lastK !== undefined && lastK >= target.k;
      if (target.followUps === 0) {
        this.counters.targeted++;
        if (arrived) {
          this.guard -= this.hitsInRow < 8 ? Math.min(guardDownMs * 2 ** this.hitsInRow, 2) : Math.min(2 ** (this.hitsInRow - 7), Math.max(guardDownMaxMs, fit.period / 8));
          this.hitsInRow++;
        } else {
          this.hitsInRow = 0;
        }
      } else {
        this.counters.followUps++;
        // Found by a follow-up: it arrived between the previous poll and this one.
        if (arrived) this.guard = Math.max(this.guard + guardUpMs, (this.guard + startedAt - (target.at - this.guard)) / 2);
      }
      this.guard = this.clampGuard(this.guard, fit);
      if (!arrived) {
        const step = followUpsMs[target.followUps];
        // Follow-ups stop half a period after the prediction: by then the next prediction is closer.
        if (step !== undefined && startedAt + step - target.at <= fit.period / 2) {
          target.followUps++;
          return this.decide('follow-up', step - (finishedAt - startedAt), target.k);
        }
        // Not there after the follow-ups: late, or never coming (a gap, a pause, the end).
        this.guard = this.clampGuard(this.guard + guardUpMs, fit);
        this.overdue = target.k;
        this.missedInRow++;
        if (this.missedInRow >= missedToLose) {
          this.state = 'lost';
          this.lostAt = finishedAt;
          this.counters.losses++;
          this.target = undefined;
          this.note(`lost: ${missedToLose} predicted arrivals in a row did not come`, fit, finishedAt);
          return this.unlockedDelay(startedAt, finishedAt);
        }
      } else {
        this.missedInRow = 0;
      }
    } else if (found) {
      this.missedInRow = 0;
    }
    const next = this.nextTarget(fit, Math.max(lastK ?? fit.k0, target?.k ?? Number.NEGATIVE_INFINITY), startedAt);
    this.target = next;
    let wait = next.at - finishedAt;
    // A file given up on may still come late: look for it every interval until the next prediction.
    if (this.overdue !== undefined) wait = Math.min(wait, this.options.intervalMs - (finishedAt - startedAt));
    return this.decide('predicted arrival', wait, next.k);
  }

  /** The first predicted arrival after `afterK` that is at least minSpacingMs after this poll. */
  private nextTarget(fit: StreamFit, afterK: number, pollStart: number): Target {
    const earliest = pollStart + minSpacingMs;
    let k = Math.floor(afterK) + 1;
    let at = this.predicted(fit, k);
    if (at < earliest) {
      const skip = Math.ceil((earliest - at) / fit.period);
      k += skip;
      at += skip * fit.period;
    }
    return { k, at, followUps: 0 };
  }

  private predicted(fit: StreamFit, k: number): number {
    return fit.origin + (k - fit.k0) * fit.period + this.guard;
  }

  /** A file is never visible before its due time; a guard of many periods is a backlog, not the stream's beat. */
  private clampGuard(guard: number, fit: StreamFit): number {
    return Math.min(Math.max(guard, fit.basis === 'due' ? 0 : -fit.period / 2), maxGuardPeriods * fit.period);
  }

  private decide(decision: string, wait: number, k?: number): number {
    this.options.onDecision?.(`poll schedule: ${decision}`, { wait_ms: Math.round(wait * 10) / 10, ...(k === undefined ? {} : { k }), guard_ms: Math.round(this.guard * 10) / 10 });
    return wait;
  }

  private note(what: string, fit: StreamFit | undefined, at: number): void {
    this.options.onDecision?.(`poll schedule: ${what}`, {
      at,
      ...(fit === undefined
        ? {}
        : { period_ms: Math.round(fit.period * 100) / 100, basis: fit.basis, spread_ms: Math.round(fit.spread * 10) / 10, files: fit.count }),
      guard_ms: Math.round(this.guard * 10) / 10,
    });
  }
}
