import { ArrivalModel, isRegular, streamPosition, tolerance, type StreamFit } from './poll-phase.js';
import { count, newCounters, type AnnouncedStream, type PollRound, type PollSchedule } from './poll-schedule.js';

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
/**
 * The guard of a lock on an announced schedule, before any file was seen: about the upload latency of
 * a stream's first chunk on a nearby lake (8–15 ms); a slower one is found by the follow-ups.
 */
const announcedGuardMs = 8;
/** How often the first file of an announced stream is looked for once its follow-ups are over, until it comes or the announcement is dropped. */
const overdueFirstEveryMs = 8;
/**
 * The follow-ups of the first file of an announced stream come this often (from one poll's start to
 * the next), for this long after its predicted arrival, then every overdueFirstEveryMs. A stream's
 * first upload is its slowest (chunk 0 of a rehearsal: 10-14 ms after its due time, the next ones
 * ~7), so the poll at the prediction usually misses it, and follow-ups 4 ms apart found it 2 ms after
 * it came on average. At most 12 polls more, once per run (fewer when a poll takes longer than the
 * step: against a remote catalog they follow each other, one in flight at a time).
 */
const firstFollowUpMs = 2;
const firstFollowUpsForMs = 24;

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
 * a lock is found again as soon as the new arrivals line up. A stream whose schedule was announced
 * (expect) is locked onto from its chunk 0 on. The minute reconciliation of the poller stays, so
 * nothing is missed whatever the schedule does.
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
  /** The announced stream's line (see expect), until the arrivals give a line of their own. */
  private announced: StreamFit | undefined;
  /** Whether the schedule has locked onto the arrivals themselves, not only onto an announced schedule. */
  private lockedOnArrivals = false;
  /** When an announced schedule whose files did not come was given up: acquiring starts again from there. */
  private announcedDroppedAt: number | undefined;

  constructor(private readonly options: PhaseLockOptions) {}

  delayWhileAbsent(): number {
    return this.options.intervalMs;
  }

  ready(at: number): void {
    this.readyAt = at;
  }

  /**
   * The producer's schedule, known before its first file exists (a rehearsal's upload fixed its t0):
   * until the arrivals give a line of their own (two due times), the schedule locks onto this one, so
   * that the first poll goes out just after chunk 0's due time instead of acquiring every 20 ms. If
   * its files do not come, it is dropped after `missedToLose` predictions and acquiring starts over.
   */
  expect(stream: AnnouncedStream, at: number): void {
    if (this.model.fit() !== undefined || !(stream.intervalMs > 0)) return;
    this.announced = { period: stream.intervalMs, origin: stream.t0, k0: stream.firstK, basis: 'due', spread: 0, count: 0, bracket: 0 };
    this.note('schedule announced', this.announced, at);
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
    let early = false;
    for (const replica of result.fresh) {
      const k = streamPosition(replica.name);
      if (k === undefined) continue;
      this.model.seen(k, this.lastPollStart, startedAt);
      // No file is visible before its due time: one that is was not announced right.
      const announced = this.announced;
      if (announced !== undefined && k >= announced.k0 && startedAt < announced.origin + (k - announced.k0) * announced.period - tolerance(announced)) early = true;
    }
    this.lastPollStart = startedAt;
    if (early) this.dropAnnounced('a file came before its announced due time', finishedAt);
    const own = this.model.fit();
    if (own !== undefined && this.announced !== undefined) this.arrivalsTakeOver(own, finishedAt);
    const fit = own ?? this.announced;
    this.updateState(fit, finishedAt);
    if (this.state === 'locked' && own !== undefined) this.lockedOnArrivals = true;
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
      if (fit === this.announced) this.guard = this.clampGuard(announcedGuardMs, fit);
      else if (!wasLost) this.guard = this.clampGuard(this.model.earliestOffset(fit) ?? 0, fit);
      this.note(fit === this.announced ? 'locked on the announced schedule' : wasLost ? 'locked again' : 'locked', fit, now);
    }
  }

  /**
   * The arrivals have a line of their own: it replaces the announced one. A lock taken on the announced
   * schedule carries on, with the guard where the arrivals begin (as a lock on them would start) and
   * its misses counted afresh.
   */
  private arrivalsTakeOver(own: StreamFit, now: number): void {
    this.announced = undefined;
    if (this.state !== 'locked') return;
    this.guard = this.clampGuard(this.model.earliestOffset(own) ?? this.guard, own);
    this.missedInRow = 0;
    this.note('the arrivals take over from the announced schedule', own, now);
  }

  /** The files do not come as announced: forget the announcement, and acquire as a download without one would. */
  private dropAnnounced(why: string, now: number): void {
    const announced = this.announced;
    this.announced = undefined;
    this.announcedDroppedAt = now;
    if (this.state === 'locked') {
      this.state = 'acquiring';
      this.counters.losses++;
    }
    this.target = undefined;
    this.overdue = undefined;
    this.missedInRow = 0;
    this.note(`announced schedule dropped: ${why}`, announced, now);
  }

  /** Whether a download that started before its stream still polls often for its first files (see acquireEveryMs). */
  private acquiring(startedAt: number): boolean {
    if (!this.startedEmpty || this.lockedOnArrivals || this.firstAnswerAt === undefined) return false;
    return startedAt - Math.max(this.firstAnswerAt, this.readyAt ?? this.firstAnswerAt, this.announcedDroppedAt ?? this.firstAnswerAt) < acquireForMs;
  }

  private unlockedDelay(startedAt: number, finishedAt: number): number {
    const elapsed = finishedAt - startedAt;
    if (this.state === 'acquiring' && this.acquiring(startedAt)) return this.decide('acquire', acquireEveryMs - elapsed);
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
        const firstOfAnnounced = fit === this.announced && target.k === fit.k0;
        if (firstOfAnnounced && startedAt + firstFollowUpMs - target.at <= firstFollowUpsForMs) {
          target.followUps++;
          return this.decide('follow-up (first file)', firstFollowUpMs - (finishedAt - startedAt), target.k);
        }
        const step = firstOfAnnounced ? undefined : followUpsMs[target.followUps];
        // Follow-ups stop half a period after the prediction: by then the next prediction is closer.
        if (step !== undefined && startedAt + step - target.at <= fit.period / 2) {
          target.followUps++;
          return this.decide('follow-up', step - (finishedAt - startedAt), target.k);
        }
        // Not there after the follow-ups: late, or never coming (a gap, a pause, the end).
        this.guard = this.clampGuard(this.guard + guardUpMs, fit);
        this.overdue = target.k;
        this.missedInRow++;
        if (this.missedInRow >= missedToLose && fit === this.announced) {
          this.dropAnnounced(`${missedToLose} predicted arrivals in a row did not come`, finishedAt);
          return this.unlockedDelay(startedAt, finishedAt);
        }
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
    // Chunk 0 of an announced stream is polled for even when its predicted arrival has passed (the
    // announcement came late): the next ones are not nearer.
    const awaitingFirst = fit === this.announced && (lastK === undefined || lastK < fit.k0);
    const afterK = Math.max(awaitingFirst ? fit.k0 - 1 : (lastK ?? fit.k0), target?.k ?? Number.NEGATIVE_INFINITY);
    // A poll before the target's time (an overdue file looked for) keeps the target: its turn has not come.
    const pending = target !== undefined && startedAt < target.at - 1 && !(lastK !== undefined && lastK >= target.k);
    const next = pending ? target : this.nextTarget(fit, afterK, startedAt, awaitingFirst ? undefined : minSpacingMs);
    this.target = next;
    let wait = next.at - finishedAt;
    const elapsed = finishedAt - startedAt;
    // A file given up on may still come late: look for it every interval until the next prediction.
    if (this.overdue !== undefined) wait = Math.min(wait, this.options.intervalMs - elapsed);
    // Until its first file is seen, an announced schedule polls at least as often as acquiring would (a
    // wrong announcement costs no more than none), and once chunk 0 is overdue (a cold first upload)
    // every few milliseconds: it comes any moment.
    if (awaitingFirst) wait = Math.min(wait, (this.overdue !== undefined ? overdueFirstEveryMs : this.acquiring(startedAt) ? acquireEveryMs : this.options.intervalMs) - elapsed);
    return this.decide('predicted arrival', wait, next.k);
  }

  /** The first predicted arrival after `afterK`, at least `spacingMs` after this poll when given. */
  private nextTarget(fit: StreamFit, afterK: number, pollStart: number, spacingMs: number | undefined): Target {
    let k = Math.floor(afterK) + 1;
    let at = this.predicted(fit, k);
    const earliest = pollStart + (spacingMs ?? Number.NEGATIVE_INFINITY);
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
