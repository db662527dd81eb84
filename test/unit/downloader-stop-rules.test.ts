import { describe, expect, it } from 'vitest';
import { IntervalSchedule } from '../../src/downloader/poll-schedule.js';
import { Writable } from 'node:stream';
import { UnavailableError } from '../../src/common/errors.js';
import type { EventLog } from '../../src/common/event-log.js';
import { Output } from '../../src/common/output.js';
import { CatalogContact, stopReason, type RunPosition, type StopRules } from '../../src/downloader/stop-rules.js';
import { RucioAccessDeniedError, RucioAuthenticationError, RucioUnavailableError } from '../../src/rucio/index.js';

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
    answeredAt: t0 + 500,
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

describe('download stop rules before the catalog answered', () => {
  it('stop only on an abort or --duration, and --until-idle counts from the first answer', () => {
    const never = { answeredAt: undefined };
    expect(stopReason({ untilCount: 1, untilClosed: true, untilIdleMs: 1 }, position({ ...never, datasetClosed: true, datasetLength: 5 }))).toBeUndefined();
    expect(stopReason({ durationMs: 10_000, untilClosed: false }, position(never))).toBe('duration 10.0 s reached');
    expect(stopReason({ untilIdleMs: 1, untilClosed: false }, position({ ...never, aborted: true }))).toBe('interrupted');
    // A slow start (worker warm-up longer than --until-idle) is not idleness: the clock starts at the first answer.
    const idle = { untilIdleMs: 2_000, untilClosed: false };
    expect(stopReason(idle, position({ lastNewAt: t0, answeredAt: t0 + 8_500 }))).toBeUndefined();
    expect(stopReason(idle, position({ lastNewAt: t0, answeredAt: t0 + 8_000 }))).toBe('idle for 2.00 s');
  });
});

describe('catalog contact', () => {
  function contact(giveUpAfterMs = 10_000): { contact: CatalogContact; stderr: () => string; log: () => string[] } {
    let stderr = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        stderr += chunk.toString('utf8');
        callback();
      },
    });
    const lines: string[] = [];
    const log = { diagnostic: (_level: string, message: string) => lines.push(message) } as unknown as EventLog;
    const output = new Output({ json: false, debug: false, stdout: sink, stderr: sink, env: { CI: '1', NO_COLOR: '1' } });
    return { contact: new CatalogContact('http://rucio.example', giveUpAfterMs, output, log), stderr: () => stderr, log: () => lines };
  }
  const unreachable = new RucioUnavailableError({ operation: 'list replicas', status: undefined }, 'is rucio_host right?');

  it('tries again for the given time with one error line, then gives up with exit 1', () => {
    const { contact: c, stderr, log } = contact();
    expect(c.failed(unreachable, t0)).toBeUndefined();
    expect(c.failed(unreachable, t0 + 5_000)).toBeUndefined();
    expect(stderr()).toBe(
      'error: the catalog at http://rucio.example does not answer (list replicas failed; is rucio_host right?); trying again for up to 10.0 s (--give-up-after)\n',
    );
    expect(log()).toEqual(['the catalog still does not answer']);
    const giveUp = c.failed(unreachable, t0 + 10_000);
    expect(giveUp).toBeInstanceOf(UnavailableError);
    expect(giveUp?.exitCode).toBe(1);
    expect(giveUp?.message).toMatch(/^the catalog at http:\/\/rucio\.example has not answered for 10\.0 s \(last error: list replicas failed; is rucio_host right\?\); check rucio_host/);
  });

  it('counts the time without an answer from the last answer, and says when it answers again', () => {
    const { contact: c, stderr } = contact();
    c.failed(unreachable, t0);
    c.answered(t0 + 9_000);
    expect(c.answeredAt).toBe(t0 + 9_000);
    expect(c.failed(unreachable, t0 + 12_000)).toBeUndefined();
    expect(c.failed(unreachable, t0 + 21_999)).toBeUndefined();
    expect(c.failed(unreachable, t0 + 22_000)).toBeInstanceOf(UnavailableError);
    expect(stderr()).toContain('the catalog at http://rucio.example answers again, after 9.00 s');
  });

  it('stops at once on rejected credentials (exit 2) and on a refused permission', () => {
    const { contact: c } = contact();
    const rejected = new RucioAuthenticationError({ operation: 'authenticate', status: 401, exceptionClass: 'CannotAuthenticate' }, 'check the password');
    expect(c.failed(rejected, t0)).toBe(rejected);
    expect(rejected.exitCode).toBe(2);
    const denied = new RucioAccessDeniedError({ operation: 'list replicas', status: 401, exceptionClass: 'AccessDenied' }, 'ask for the permission');
    expect(c.failed(denied, t0)).toBe(denied);
  });

  it('calls a run that stopped before any answer a failure, with the last error', () => {
    const { contact: c } = contact();
    expect(c.neverAnswered('idle for 2.00 s').message).toBe('download stopped (idle for 2.00 s) without one answer from the catalog at http://rucio.example (no request finished); nothing was checked');
    c.failed(unreachable, t0);
    expect(c.neverAnswered('duration 10.0 s reached').message).toMatch(/\(last error: list replicas failed; is rucio_host right\?\)/);
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
