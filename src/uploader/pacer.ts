import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The rehearsal's metronome. Chunk k is due at `t0 + k * intervalMs` on the wall clock. Each wait is
 * computed from that absolute time, so delays never accumulate (no setInterval drift).
 */
export interface Schedule {
  /** Epoch ms at which chunk 0 is due. */
  t0: number;
  /** Wall-clock spacing of chunks: period / rate factor; 0 means as fast as possible. */
  intervalMs: number;
}

export type LatePolicy = 'catch-up' | 'skip';

export interface PacerTick {
  seq: number;
  /** When the chunk's data is complete: its due time, or the emission time when unpaced. */
  tAvail: number;
  /** Emitted later than the tolerance allows (the process was paused or overloaded). */
  late: boolean;
}

export interface PacerOptions {
  schedule: Schedule;
  /** First sequence number to emit (a resumed run starts where it stopped). */
  from: number;
  /** Sequence number to stop before; undefined runs until the signal fires. */
  until?: number;
  latePolicy: LatePolicy;
  /** How late a chunk may be emitted before it counts as late; defaults to one interval, at least 50 ms. */
  lateToleranceMs?: number;
  signal: AbortSignal;
  now?: () => number;
  /** Waits `ms` or until the signal fires (rejecting then); a timer by default. Tests drive `now` and this together. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<unknown>;
  /** Called for each chunk at (or as soon as possible after) its due time; awaited, so it back-pressures. */
  emit: (tick: PacerTick) => Promise<void>;
  /** Called for chunks dropped by the `skip` policy. */
  skipLate: (tick: PacerTick) => Promise<void>;
  /**
   * Unpaced runs only: emits up to `size` chunks at a time through `emit` instead of one by one (no
   * chunk has a due time to wait for, so nothing is held back; the producer queues them together).
   */
  batch?: { size: number; emit: (ticks: PacerTick[]) => Promise<void> };
}

export function dueAt(schedule: Schedule, seq: number): number {
  return schedule.t0 + seq * schedule.intervalMs;
}

export function defaultLateTolerance(schedule: Schedule): number {
  return Math.max(50, schedule.intervalMs);
}

/**
 * Emits ticks until `until` or the signal. Resolves with the next sequence number that was not emitted
 * or skipped, so a caller can persist it for --resume.
 */
export async function runPacer(options: PacerOptions): Promise<number> {
  const { schedule, signal } = options;
  const now = options.now ?? Date.now;
  const tolerance = options.lateToleranceMs ?? defaultLateTolerance(schedule);
  const unpaced = schedule.intervalMs === 0;
  let seq = options.from;
  while (!signal.aborted && (options.until === undefined || seq < options.until)) {
    if (unpaced) {
      const size = Math.max(1, Math.min(options.batch?.size ?? 1, (options.until ?? Number.POSITIVE_INFINITY) - seq));
      if (options.batch === undefined || size === 1) {
        await options.emit({ seq, tAvail: now(), late: false });
        seq++;
        continue;
      }
      const tAvail = now();
      await options.batch.emit(Array.from({ length: size }, (_, index) => ({ seq: seq + index, tAvail, late: false })));
      seq += size;
      continue;
    }
    const due = dueAt(schedule, seq);
    if (!(await waitUntil(due, now, options.sleep ?? timerSleep, signal))) break;
    const lateBy = now() - due;
    const late = lateBy > tolerance;
    if (late && options.latePolicy === 'skip') {
      await options.skipLate({ seq, tAvail: due, late });
    } else {
      await options.emit({ seq, tAvail: due, late });
    }
    seq++;
  }
  return seq;
}

function timerSleep(ms: number, signal: AbortSignal): Promise<unknown> {
  return sleep(ms, undefined, { signal });
}

/**
 * Sleeps until the epoch-ms deadline. Timers fire at the earliest after their delay and are otherwise
 * accurate to about a millisecond, so one timer per tick is enough for the p99 <= 5 ms target; a long
 * wait is re-checked against the clock so that a suspended process wakes on the real deadline.
 * Resolves false when the signal fired instead.
 */
async function waitUntil(deadline: number, now: () => number, wait: NonNullable<PacerOptions['sleep']>, signal: AbortSignal): Promise<boolean> {
  for (let remaining = deadline - now(); remaining > 0; remaining = deadline - now()) {
    try {
      await wait(Math.min(remaining, 60_000), signal);
    } catch {
      return false; // aborted
    }
  }
  return !signal.aborted;
}
