import { describe, expect, it } from 'vitest';
import { defaultLateTolerance, dueAt, runPacer, type PacerTick } from '../../src/uploader/pacer.js';

/** A fake clock driven by the pacer's own waits would hide real timer behaviour; these use the real clock. */
describe('pacer', () => {
  it('emits each chunk at t0 + k * interval on the real clock, without drift', async () => {
    const intervalMs = 20;
    const t0 = Date.now() + 30;
    const ticks: (PacerTick & { at: number })[] = [];
    const next = await runPacer({
      schedule: { t0, intervalMs },
      from: 0,
      until: 25,
      latePolicy: 'catch-up',
      signal: new AbortController().signal,
      emit: async (tick) => {
        ticks.push({ ...tick, at: Date.now() });
      },
      skipLate: () => Promise.reject(new Error('nothing should be late')),
    });
    expect(next).toBe(25);
    expect(ticks.map((tick) => tick.seq)).toEqual([...Array(25).keys()]);
    for (const tick of ticks) {
      expect(tick.tAvail).toBe(t0 + tick.seq * intervalMs);
      expect(tick.at).toBeGreaterThanOrEqual(tick.tAvail);
      expect(tick.late).toBe(false);
    }
    // The last tick is not later than a generous bound: errors do not accumulate over the run.
    const last = ticks.at(-1)!;
    expect(last.at - last.tAvail).toBeLessThan(50);
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
    const t0 = Date.now() - 500; // five 100 ms slots already passed
    const emitted: PacerTick[] = [];
    await runPacer({
      schedule: { t0, intervalMs: 100 },
      from: 0,
      until: 7,
      latePolicy: 'catch-up',
      signal: new AbortController().signal,
      emit: async (tick) => {
        emitted.push(tick);
      },
      skipLate: () => Promise.reject(new Error('catch-up never skips')),
    });
    expect(emitted).toHaveLength(7);
    expect(emitted.slice(0, 4).every((tick) => tick.late)).toBe(true);
    expect(emitted.at(-1)!.late).toBe(false);
  });

  it('skip policy hands late chunks to skipLate and emits the rest', async () => {
    // Chunk 3 is 150 ms late (> the 100 ms tolerance), chunk 4 50 ms: clear of the boundary either way.
    const t0 = Date.now() - 450;
    const emitted: number[] = [];
    const skipped: number[] = [];
    await runPacer({
      schedule: { t0, intervalMs: 100 },
      from: 0,
      until: 7,
      latePolicy: 'skip',
      signal: new AbortController().signal,
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

  it('stops promptly on abort and reports the next unsent sequence', async () => {
    const controller = new AbortController();
    const t0 = Date.now();
    setTimeout(() => controller.abort(), 120);
    const started = Date.now();
    const next = await runPacer({
      schedule: { t0, intervalMs: 50 },
      from: 0,
      latePolicy: 'catch-up',
      signal: controller.signal,
      emit: async () => undefined,
      skipLate: async () => undefined,
    });
    expect(Date.now() - started).toBeLessThan(400);
    expect(next).toBeGreaterThanOrEqual(2);
    expect(next).toBeLessThanOrEqual(4);
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

  it('computes due times and tolerance', () => {
    expect(dueAt({ t0: 1000, intervalMs: 250 }, 4)).toBe(2000);
    expect(defaultLateTolerance({ t0: 0, intervalMs: 1000 })).toBe(1000);
    expect(defaultLateTolerance({ t0: 0, intervalMs: 1 })).toBe(50);
  });
});
