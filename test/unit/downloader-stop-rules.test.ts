import { describe, expect, it } from 'vitest';
import { IntervalSchedule } from '../../src/downloader/poll-schedule.js';
import { stopReason, type RunPosition, type StopRules } from '../../src/downloader/stop-rules.js';

const t0 = 1_700_000_000_000;

/** A run 10 s in, 5 chunks verified, nothing in flight, the last new chunk 1 s ago, dataset open. */
function position(overrides: Partial<RunPosition> = {}): RunPosition {
  return {
    aborted: false,
    now: t0 + 10_000,
    startedAt: t0,
    verifiedTotal: 5,
    givenUp: 0,
    inFlight: 0,
    lastNewAt: t0 + 9_000,
    datasetClosed: false,
    datasetLength: undefined,
    ...overrides,
  };
}

const noRules: StopRules = { untilClosed: false };

describe('download stop rules', () => {
  it('never stops without a rule or an abort', () => {
    expect(stopReason(noRules, position())).toBeUndefined();
    expect(stopReason(noRules, position({ now: t0 + 86_400_000, lastNewAt: t0, datasetClosed: true, datasetLength: 5 }))).toBeUndefined();
  });

  it('stops at once when aborted, before any other rule', () => {
    expect(stopReason(noRules, position({ aborted: true }))).toBe('interrupted');
    expect(stopReason({ untilCount: 1, untilClosed: false }, position({ aborted: true }))).toBe('interrupted');
  });

  it('--until-count counts the chunks an earlier run verified too', () => {
    const rules = { untilCount: 6, untilClosed: false };
    expect(stopReason(rules, position({ verifiedTotal: 5 }))).toBeUndefined();
    expect(stopReason(rules, position({ verifiedTotal: 6 }))).toBe('verified 6 chunks');
    expect(stopReason(rules, position({ verifiedTotal: 9 }))).toBe('verified 9 chunks');
  });

  it('--duration counts from the start of the run', () => {
    const rules = { durationMs: 15_000, untilClosed: false };
    expect(stopReason(rules, position({ now: t0 + 14_999 }))).toBeUndefined();
    expect(stopReason(rules, position({ now: t0 + 15_000 }))).toBe('duration 15.0 s reached');
  });

  it('--until-idle waits for the last chunk in flight and counts from the last new chunk', () => {
    const rules = { untilIdleMs: 2_000, untilClosed: false };
    expect(stopReason(rules, position({ lastNewAt: t0 + 8_001 }))).toBeUndefined();
    expect(stopReason(rules, position({ lastNewAt: t0 + 8_000, inFlight: 1 }))).toBeUndefined();
    expect(stopReason(rules, position({ lastNewAt: t0 + 8_000 }))).toBe('idle for 2.00 s');
  });

  it('--until-closed needs a closed dataset of known length, nothing in flight, and every chunk verified or given up on', () => {
    const rules = { untilClosed: true };
    const handled = { datasetClosed: true, datasetLength: 8, verifiedTotal: 6, givenUp: 2 };
    expect(stopReason(rules, position(handled))).toBe('dataset closed and every chunk in it handled');
    expect(stopReason(rules, position({ ...handled, datasetClosed: false }))).toBeUndefined();
    expect(stopReason(rules, position({ ...handled, datasetLength: undefined }))).toBeUndefined();
    expect(stopReason(rules, position({ ...handled, inFlight: 1 }))).toBeUndefined();
    expect(stopReason(rules, position({ ...handled, givenUp: 1 }))).toBeUndefined();
    // Files added by hand after the close are not waited for (the length is what the catalog said).
    expect(stopReason(rules, position({ ...handled, datasetLength: 7 }))).toBe('dataset closed and every chunk in it handled');
  });

  it('names the first rule that holds: count, then duration, then idle, then closed', () => {
    const all: StopRules = { untilCount: 5, durationMs: 10_000, untilIdleMs: 1_000, untilClosed: true };
    const everything = { datasetClosed: true, datasetLength: 5 };
    expect(stopReason(all, position(everything))).toBe('verified 5 chunks');
    expect(stopReason({ ...all, untilCount: 6 }, position(everything))).toBe('duration 10.0 s reached');
    expect(stopReason({ ...all, untilCount: 6, durationMs: 60_000 }, position(everything))).toBe('idle for 1.00 s');
    expect(stopReason({ untilClosed: true, untilIdleMs: 60_000 }, position(everything))).toBe('dataset closed and every chunk in it handled');
  });
});

describe('interval poll schedule', () => {
  it('polls every interval counted from the start of the previous poll, at once when a poll took longer', () => {
    const schedule = new IntervalSchedule(250);
    expect(schedule.delayAfter({ startedAt: t0, finishedAt: t0 + 40 })).toBe(210);
    expect(schedule.delayAfter({ startedAt: t0, finishedAt: t0 + 250 })).toBe(0);
    expect(schedule.delayAfter({ startedAt: t0, finishedAt: t0 + 400 })).toBeLessThan(0);
  });

  it('waits a whole interval for a dataset that does not exist yet', () => {
    expect(new IntervalSchedule(250).delayWhileAbsent()).toBe(250);
  });
});
