import { describe, expect, it } from 'vitest';
import { defaultLateTolerance, dueAt, runPacer, type PacerTick } from '../../src/uploader/pacer.js';

/**
 * A clock that only the pacer's own waits and the test move: a wait of `ms` ends `lateBy()` ms after
 * its deadline, as a busy machine's timers do, and `spend` is work done while emitting. The schedule's
 * arithmetic is then checked exactly, whatever the load of the machine running the test; how close
 * real timers come to the schedule is the `pacing` benchmark's to measure.
 */
function virtualClock(start: number, lateBy: () => number = () => 0) {
  let t = start;
  return {
    now: () => t,
    sleep: (ms: number, signal: AbortSignal): Promise<void> => {
      if (signal.aborted) return Promise.reject(new Error('aborted'));
      t += ms + lateBy();
      return Promise.resolve();
    },
    spend: (ms: number): void => {
      t += ms;
    },
  };
}

/** Deterministic timer lateness in [0, maxMs] (a linear congruential sequence). */
function jitter(seed: number, maxMs: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state % (maxMs + 1);
  };
}

describe('pacer', () => {
  it('emits each chunk at t0 + k * interval: timer lateness and emit time never accumulate (14,400 chunks)', async () => {
    const intervalMs = 100;
    const t0 = 1_800_000_000_000;
    const clock = virtualClock(t0 - 30, jitter(7, 9));
    const errors: number[] = [];
    const next = await runPacer({
      schedule: { t0, intervalMs },
      from: 0,
      until: 14_400,
      latePolicy: 'catch-up',
      signal: new AbortController().signal,
      now: clock.now,
      sleep: clock.sleep,
      emit: async (tick) => {
        expect(tick.tAvail).toBe(dueAt({ t0, intervalMs }, tick.seq));
        errors.push(clock.now() - tick.tAvail);
        // Enqueuing costs up to 40 ms, and chunk 5000 stalls for 350 ms (a GC pause, a slow Redis).
        clock.spend(tick.seq === 5000 ? 350 : (tick.seq * 7) % 41);
      },
      skipLate: () => Promise.reject(new Error('catch-up never skips')),
    });
    expect(next).toBe(14_400);
    expect(errors).toHaveLength(14_400);
    // Each chunk is late only by its own wait's timer lateness (0-9 ms): none of the earlier waits' or emits'.
    const afterStall = (seq: number): boolean => seq > 5000 && seq <= 5003;
    expect(Math.max(...errors.filter((_, seq) => !afterStall(seq)))).toBeLessThanOrEqual(9);
    // The stall makes the next chunks late (caught up back to back), then the original grid holds again.
    expect(errors.slice(5001, 5004).every((error) => error > 9)).toBe(true);
    expect(errors[5004]).toBeLessThanOrEqual(9);
    // No drift: the error at the last chunk is no larger than the worst of the first ten.
    expect(errors.at(-1)).toBeLessThanOrEqual(Math.max(...errors.slice(0, 10)));
  });

  it('never emits a chunk before its due time on the real clock', async () => {
    const intervalMs = 20;
    const t0 = Date.now() + 30;
    const ticks: (PacerTick & { at: number })[] = [];
    const next = await runPacer({
      schedule: { t0, intervalMs },
      from: 0,
      until: 10,
      latePolicy: 'catch-up',
      signal: new AbortController().signal,
      emit: async (tick) => {
        ticks.push({ ...tick, at: Date.now() });
      },
      skipLate: () => Promise.reject(new Error('catch-up never skips')),
    });
    expect(next).toBe(10);
    expect(ticks.map((tick) => tick.seq)).toEqual([...Array(10).keys()]);
    for (const tick of ticks) {
      expect(tick.tAvail).toBe(t0 + tick.seq * intervalMs);
      expect(tick.at).toBeGreaterThanOrEqual(tick.tAvail);
    }
  });

  it('resumes from a given sequence on the same absolute schedule', async () => {
    const t0 = Date.now() - 1000;
    const seen: PacerTick[] = [];
    await runPacer({
      schedule: { t0, intervalMs: 10 },
      from: 100,
      until: 103,
      latePolicy: 'catch-up',
      signal: new AbortController().signal,
      emit: async (tick) => {
        seen.push(tick);
      },
      skipLate: async () => undefined,
    });
    expect(seen.map((tick) => [tick.seq, tick.tAvail])).toEqual([
      [100, t0 + 1000],
      [101, t0 + 1010],
      [102, t0 + 1020],
    ]);
  });

  it('flags chunks emitted after their slot as late, and catch-up still emits them', async () => {
    const t0 = 1_800_000_000_000;
    const clock = virtualClock(t0 + 450); // four and a half 100 ms slots already passed
    const emitted: PacerTick[] = [];
    await runPacer({
      schedule: { t0, intervalMs: 100 },
      from: 0,
      until: 7,
      latePolicy: 'catch-up',
      signal: new AbortController().signal,
      now: clock.now,
      sleep: clock.sleep,
      emit: async (tick) => {
        emitted.push(tick);
      },
      skipLate: () => Promise.reject(new Error('catch-up never skips')),
    });
    expect(emitted.map((tick) => tick.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // Late beyond the 100 ms tolerance: chunks 0-3 (450-150 ms); chunk 4 is 50 ms behind, 5 and 6 on time.
    expect(emitted.map((tick) => tick.late)).toEqual([true, true, true, true, false, false, false]);
  });

  it('skip policy hands late chunks to skipLate and emits the rest', async () => {
    const t0 = 1_800_000_000_000;
    const clock = virtualClock(t0 + 450);
    const emitted: number[] = [];
    const skipped: number[] = [];
    await runPacer({
      schedule: { t0, intervalMs: 100 },
      from: 0,
      until: 7,
      latePolicy: 'skip',
      signal: new AbortController().signal,
      now: clock.now,
      sleep: clock.sleep,
      emit: async (tick) => {
        emitted.push(tick.seq);
      },
      skipLate: async (tick) => {
        skipped.push(tick.seq);
      },
    });
    expect(skipped).toEqual([0, 1, 2, 3]);
    expect(emitted).toEqual([4, 5, 6]);
  });

  it('stops on abort, also in the middle of a wait, and reports the next unsent sequence', async () => {
    const controller = new AbortController();
    const t0 = 1_800_000_000_000;
    const clock = virtualClock(t0);
    const next = await runPacer({
      schedule: { t0, intervalMs: 50 },
      from: 0,
      latePolicy: 'catch-up',
      signal: controller.signal,
      now: clock.now,
      // The stop arrives 120 ms in, during the wait for chunk 3 (due at 150 ms).
      sleep: (ms, signal) => {
        if (clock.now() + ms > t0 + 120) {
          controller.abort();
          return Promise.reject(new Error('aborted'));
        }
        return clock.sleep(ms, signal);
      },
      emit: async () => undefined,
      skipLate: async () => undefined,
    });
    expect(next).toBe(3);
  });

  it('stops promptly on abort with real timers', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    const next = await runPacer({
      schedule: { t0: started + 10_000, intervalMs: 1000 },
      from: 0,
      latePolicy: 'catch-up',
      signal: controller.signal,
      emit: async () => undefined,
      skipLate: async () => undefined,
    });
    // Nothing was due yet: the wait for chunk 0 (10 s) ended with the signal, not with its timer.
    expect(next).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('emits back to back when unpaced', async () => {
    let count = 0;
    const started = Date.now();
    await runPacer({
      schedule: { t0: started, intervalMs: 0 },
      from: 0,
      until: 1000,
      latePolicy: 'catch-up',
      signal: new AbortController().signal,
      emit: async () => {
        count++;
      },
      skipLate: async () => undefined,
    });
    expect(count).toBe(1000);
  });

  it('emits unpaced chunks in batches when given a batch emitter, the last one short, and paced ones one by one', async () => {
    const batches: PacerTick[][] = [];
    const single: PacerTick[] = [];
    const next = await runPacer({
      schedule: { t0: Date.now(), intervalMs: 0 },
      from: 3,
      until: 40,
      latePolicy: 'catch-up',
      signal: new AbortController().signal,
      emit: async (tick) => {
        single.push(tick);
      },
      skipLate: async () => undefined,
      batch: {
        size: 16,
        emit: async (ticks) => {
          batches.push(ticks);
        },
      },
    });
    expect(next).toBe(40);
    expect(single).toEqual([]);
    expect(batches.map((ticks) => ticks.map((tick) => tick.seq))).toEqual([
      [...Array(16).keys()].map((k) => 3 + k),
      [...Array(16).keys()].map((k) => 19 + k),
      [35, 36, 37, 38, 39],
    ]);
    for (const ticks of batches) for (const tick of ticks) expect(tick).toEqual({ seq: tick.seq, tAvail: ticks[0]!.tAvail, late: false });

    const paced: PacerTick[] = [];
    await runPacer({
      schedule: { t0: Date.now() - 1000, intervalMs: 100 },
      from: 0,
      until: 5,
      latePolicy: 'catch-up',
      signal: new AbortController().signal,
      emit: async (tick) => {
        paced.push(tick);
      },
      skipLate: async () => undefined,
      batch: { size: 16, emit: () => Promise.reject(new Error('a paced run emits chunk by chunk')) },
    });
    expect(paced.map((tick) => tick.seq)).toEqual([0, 1, 2, 3, 4]);
  });

  it('computes due times and tolerance', () => {
    expect(dueAt({ t0: 1000, intervalMs: 250 }, 4)).toBe(2000);
    expect(defaultLateTolerance({ t0: 0, intervalMs: 1000 })).toBe(1000);
    expect(defaultLateTolerance({ t0: 0, intervalMs: 1 })).toBe(50);
  });
});
