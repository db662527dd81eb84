import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ArrivalModel, streamPosition } from '../../src/downloader/poll-phase.js';
import { PhaseLockedSchedule } from '../../src/downloader/phase-locked-schedule.js';
import { IntervalSchedule, type AnnouncedStream, type PollSchedule } from '../../src/downloader/poll-schedule.js';
import type { ReplicaRecord } from '../../src/rucio/index.js';

/**
 * The phase-locked schedule against a simulated catalog: each file becomes visible at a time taken
 * from a recorded rehearsal (upload.jsonl: `t_uploaded` of each chunk, its `t_avail` as its due
 * time) or built from it (jitter, a gap, a new rate, a burst); a poll at time t returns the files
 * visible by t that no poll returned before, a worker reports a file's due time 15 ms after it was
 * seen, and the schedule says when the next poll goes out.
 */

interface Arrival {
  k: number;
  /** When the file is visible in the catalog. */
  visible: number;
  /** Its t_avail. */
  due: number;
  /** Another producer's files carry other names. */
  producer?: string;
}

/** A recorded sequence: (seq, t_avail, t_uploaded) of each chunk, in ms from the first t_avail. */
function recorded(file: string): Arrival[] {
  const rows = JSON.parse(readFileSync(new URL(`../fixtures/arrivals/${file}`, import.meta.url), 'utf8')) as { seq: number; due: number; visible: number }[];
  return rows.map((row) => ({ k: row.seq, due: row.due, visible: row.visible }));
}

function nameOf(arrival: Arrival): string {
  return `V-V1_${arrival.producer ?? 'WAVEFIER_R1'}-${1_400_000_000 + arrival.k}-1.hdf5`;
}

function replica(name: string): ReplicaRecord {
  return { scope: 'wavefier', name, bytes: 1, adler32: '00000001', pfns: [], states: {} };
}

interface Simulation {
  /** Poll time minus visible time of each file, in stream order. */
  delays: number[];
  polls: number;
  pollTimes: number[];
  /** Polls per file once `from` files (in stream order) were visible, until the last one was seen. */
  pollsPerFile(from?: number): number;
}

const pollMs = 2;
const verifyMs = 15;

/** Runs `schedule` against the arrivals, from `startMs` before the first one until every file was seen. */
interface SimulationOptions {
  startMs?: number;
  firstPollSeesBacklog?: boolean;
  verifyMs?: number;
  withoutDueTimes?: boolean;
  /** The producer's schedule, told at `at` (the pause then in progress ends, as the download's poll loop is woken). */
  announce?: { at: number; stream: AnnouncedStream };
}

function simulate(arrivals: Arrival[], schedule: PollSchedule, options: SimulationOptions = {}): Simulation {
  const sorted = [...arrivals].sort((a, b) => a.visible - b.visible);
  const first = sorted[0]?.visible ?? 0;
  let t = first - (options.startMs ?? 500);
  if (options.firstPollSeesBacklog === true) t = first + 1;
  const seen = new Map<string, number>();
  const dues: { at: number; name: string; due: number; noDue?: boolean }[] = [];
  const pollTimes: number[] = [];
  // Only a schedule that takes an announcement is woken by one (see download-run.ts).
  let announce = schedule.expect === undefined ? undefined : options.announce;
  for (let guard = 0; seen.size < arrivals.length && guard < 1_000_000; guard++) {
    if (announce !== undefined && t >= announce.at) {
      schedule.expect?.(announce.stream, t);
      announce = undefined;
    }
    for (let index = dues.length - 1; index >= 0; index--) {
      const due = dues[index]!;
      if (due.at > t) continue;
      schedule.verified?.(due.name, due.noDue === true ? undefined : due.due);
      dues.splice(index, 1);
    }
    const fresh: ReplicaRecord[] = [];
    for (const arrival of sorted) {
      if (arrival.visible > t) break;
      const name = nameOf(arrival);
      if (seen.has(name)) continue;
      seen.set(name, t - arrival.visible);
      dues.push({ at: t + (options.verifyMs ?? verifyMs), name, due: arrival.due, noDue: options.withoutDueTimes === true });
      fresh.push(replica(name));
    }
    pollTimes.push(t);
    const wait = schedule.delayAfter({ startedAt: t, finishedAt: t + pollMs, result: { fresh, requests: 1, full: pollTimes.length === 1, listed: fresh.length } });
    const next = t + pollMs + Math.max(0, wait);
    t = announce !== undefined && next > announce.at ? Math.max(announce.at, t + pollMs) : next;
  }
  const inOrder = [...arrivals].sort((a, b) => a.k - b.k);
  const delays = inOrder.map((arrival) => seen.get(nameOf(arrival)) ?? Number.NaN);
  return {
    delays,
    polls: pollTimes.length,
    pollTimes,
    pollsPerFile(from = 0) {
      const since = inOrder[from]?.visible ?? first;
      return pollTimes.filter((time) => time >= since).length / (inOrder.length - from);
    },
  };
}

function lockedSchedule(decisions?: string[]): PhaseLockedSchedule {
  return new PhaseLockedSchedule({ intervalMs: 250, onDecision: (decision) => decisions?.push(decision) });
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** A seeded generator, so that every run sees the same jitter. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('stream positions', () => {
  it('come from the IGWN name (GPS start over duration), and are absent for other names', () => {
    expect(streamPosition('V-V1_WAVEFIER_R1-1400000007-1.hdf5')).toBe(1_400_000_007);
    expect(streamPosition('H-H1_X-1400000008-4.hdf5')).toBe(350_000_002);
    expect(streamPosition('notes.txt')).toBeUndefined();
  });
});

describe('the arrival model', () => {
  it('finds the period of a paced stream from two due times and keeps it when files are seen late', () => {
    const model = new ArrivalModel();
    model.seen(10, 0, 50);
    model.seen(11, 50, 160);
    model.due(10, 40);
    model.due(11, 140);
    expect(model.fit()).toMatchObject({ basis: 'due', period: 100, origin: 40, k0: 10 });
    // Seen 900 ms late (a catch-up after a stall): the due times still lie on the line.
    model.seen(12, 160, 1140);
    model.due(12, 240);
    expect(model.fit()).toMatchObject({ basis: 'due', period: 100, spread: 0 });
  });

  it('keeps the line of the due times while the workers are behind the polls', () => {
    const model = new ArrivalModel();
    for (let k = 0; k < 4; k++) model.due(k, k * 100);
    // Forty more files seen before any of their due times arrived.
    for (let k = 4; k < 44; k++) model.seen(k, k * 100, k * 100 + 10);
    expect(model.fit()).toMatchObject({ basis: 'due', period: 100, origin: 0 });
  });

  it('learns a new line when the files stop following the old one', () => {
    const model = new ArrivalModel();
    for (let k = 0; k < 10; k++) {
      model.seen(k, k * 100, k * 100 + 20);
      model.due(k, k * 100);
    }
    expect(model.fit()?.period).toBe(100);
    for (let k = 10; k < 16; k++) {
      const due = 1000 + (k - 10) * 50;
      model.seen(k, due, due + 20);
      model.due(k, due);
    }
    expect(model.fit()?.period).toBe(50);
  });

  it('fits seen times when the files carry no due times, and says how coarse they are', () => {
    const model = new ArrivalModel();
    for (let k = 0; k < 8; k++) model.seen(k, k * 1000 - 250 + 5, k * 1000 + 5 + (k % 2) * 100);
    // Until a worker says a file has no due time, seen times are not trusted: they may be a backlog.
    expect(model.fit()).toBeUndefined();
    model.withoutDue();
    const fit = model.fit();
    expect(fit).toMatchObject({ basis: 'seen' });
    expect(fit?.period).toBeCloseTo(1000, 0);
    expect(fit?.bracket).toBeGreaterThanOrEqual(250);
  });
});

/** Detection delays from the `from`-th file on, phase-locked and plain, with the polls they cost. */
function compare(arrivals: Arrival[], from: number, options: SimulationOptions = {}) {
  const schedule = lockedSchedule();
  const locked = simulate(arrivals, schedule, options);
  // The plain interval's delays depend on where its polls fall against the arrivals: pooled over ten phases.
  const plainRuns = Array.from({ length: 10 }, (_, index) =>
    simulate(arrivals, new IntervalSchedule(250), { ...options, startMs: (options.startMs ?? 500) + index * 25 }),
  );
  const plain = { delays: plainRuns.flatMap((run) => run.delays.slice(from)), pollsPerFile: () => plainRuns[0]!.pollsPerFile(from) };
  const samePhase = simulate(arrivals, new IntervalSchedule(250), options);
  const result = {
    schedule,
    locked,
    p50: quantile(locked.delays.slice(from), 0.5),
    p90: quantile(locked.delays.slice(from), 0.9),
    plainP50: quantile(plain.delays, 0.5),
    plainP90: quantile(plain.delays, 0.9),
    polls: locked.pollsPerFile(from),
    plainPolls: plain.pollsPerFile(),
    /** The plain interval started at the same time as the phase-locked run. */
    samePhase,
  };
  if (process.env.WAVEFIER_SHOW_SIMULATION === '1') {
    console.log(JSON.stringify({ ...result, schedule: schedule.counters, locked: undefined, samePhase: undefined }));
  }
  return result;
}

describe('phase-locked polling on recorded and altered arrival sequences', () => {
  // Recorded from `wavefier rehearse` runs (see test/fixtures/arrivals/README.md).
  const at10Hz = recorded('rate10.json');
  const at1Hz = recorded('rate1.json');

  it('steady 10 Hz (rehearse defaults): locks within a few chunks, then polls once per chunk just after it arrives', () => {
    const run = compare(at10Hz, 15);
    expect(run.schedule.counters).toMatchObject({ locks: 1, losses: 0 });
    expect(run.p50).toBeLessThan(run.plainP50 / 3);
    expect(run.p90).toBeLessThan(run.plainP90 / 2);
    expect(run.polls).toBeLessThanOrEqual(1.5);
    // Chunk 0 is caught by the acquisition polls (every 20 ms until the lock).
    expect(run.locked.delays[0]).toBeLessThanOrEqual(20);
  });

  it('steady 1 Hz: about one poll per chunk, just after it arrives, none in between', () => {
    const run = compare(at1Hz, 5);
    expect(run.schedule.counters).toMatchObject({ locks: 1, losses: 0 });
    expect(run.p50).toBeLessThan(run.plainP50 / 3);
    expect(run.polls).toBeLessThanOrEqual(1.5);
    expect(run.plainPolls).toBeGreaterThanOrEqual(3.9);
  });

  it('jitter: uploads taking 0-40 ms longer at random stay locked, or lock again at once', () => {
    const next = random(7);
    const run = compare(at10Hz.map((arrival) => ({ ...arrival, visible: arrival.visible + 40 * next() })), 15);
    expect(run.schedule.counters.losses).toBeLessThanOrEqual(2);
    expect(run.schedule.counters.locks).toBe(run.schedule.counters.losses + 1);
    expect(run.p50).toBeLessThan(run.plainP50 / 2);
    expect(run.p90).toBeLessThan(run.plainP90);
    expect(run.polls).toBeLessThanOrEqual(2);
  });

  it('gap: 3 s without chunks (skipped NaN data) loses the lock, polls every interval, and locks again after it', () => {
    const run = compare(at10Hz.filter((arrival) => arrival.k < 40 || arrival.k >= 70), 15);
    expect(run.schedule.counters.losses).toBeGreaterThanOrEqual(1);
    expect(run.schedule.counters.locks).toBe(run.schedule.counters.losses + 1);
    const afterGap = run.locked.delays.slice(40 + 3);
    expect(quantile(afterGap, 0.5)).toBeLessThan(run.plainP50 / 2);
    // During the gap: three missed predictions with their follow-ups, then one poll per interval.
    expect(run.polls).toBeLessThanOrEqual(2.5);
  });

  it('rate change: the stream doubles its rate and the schedule follows within a few chunks', () => {
    const base = at10Hz[50]!;
    const changed = at10Hz.map((arrival) => {
      if (arrival.k < 50) return arrival;
      const shift = (arrival.k - 50) * 50 - (arrival.due - base.due);
      return { ...arrival, due: arrival.due + shift, visible: arrival.visible + shift };
    });
    const run = compare(changed, 60);
    expect(run.p50).toBeLessThan(run.plainP50 / 2);
    expect(run.polls).toBeLessThanOrEqual(2);
  });

  it('catch-up burst: 20 chunks held up for 2 s arrive at once, then the stream goes on on its schedule', () => {
    const burstAt = at10Hz.find((arrival) => arrival.k === 60)!.visible;
    const run = compare(at10Hz.map((arrival) => (arrival.k >= 40 && arrival.k < 60 ? { ...arrival, visible: burstAt } : arrival)), 63);
    expect(run.locked.delays.slice(40, 60).every((delay) => delay <= 250)).toBe(true);
    expect(run.p50).toBeLessThan(run.plainP50 / 2);
  });

  it('restart: a downloader started mid-stream sees the backlog at once and locks on the next chunks', () => {
    const tail = at10Hz.filter((arrival) => arrival.k >= 30);
    const backlogVisibleAt = tail[20]!.visible;
    const run = compare(
      tail.map((arrival) => (arrival.k < 50 ? { ...arrival, visible: Math.min(arrival.visible, backlogVisibleAt) } : arrival)),
      30,
      { firstPollSeesBacklog: true },
    );
    expect(run.schedule.counters.locks).toBe(1);
    expect(run.p50).toBeLessThan(run.plainP50 / 2);
  });

  it('one late chunk at 1 Hz: looked for every interval after its follow-ups, while the next one is still polled for when it is due', () => {
    const late = at1Hz.map((arrival) => (arrival.k === 10 ? { ...arrival, visible: arrival.visible + 700 } : arrival));
    const run = compare(late, 5);
    expect(run.schedule.counters).toMatchObject({ locks: 1, losses: 0 });
    // Found by the interval polls after its follow-ups (half a period), not by chunk 11's poll.
    expect(run.locked.delays[10]).toBeLessThanOrEqual(250 + pollMs);
    // Those early polls do not move chunk 11's prediction on to chunk 12's time.
    expect(run.locked.delays[11]).toBeLessThanOrEqual(quantile(run.locked.delays.slice(5), 0.9));
  });

  it('irregular: two producers with their own timelines, arriving at random, fall back to the plain interval', () => {
    const next = random(11);
    const arrivals: Arrival[] = [];
    let t = 0;
    for (let index = 0; index < 80; index++) {
      t += 200 * -Math.log(1 - next());
      const producer = index % 2 === 0 ? 'WAVEFIER_A' : 'WAVEFIER_B';
      arrivals.push({ k: (index % 2 === 0 ? 0 : 5_000_000) + index, visible: t, due: t - 10, producer });
    }
    const run = compare(arrivals, 0, { startMs: 0, withoutDueTimes: true });
    expect(run.schedule.counters.locks).toBe(0);
    // Exactly what the plain interval does.
    expect(run.locked.delays).toEqual(run.samePhase.delays);
    expect(run.locked.polls).toBe(run.samePhase.polls);
  });

  it('workers behind: due times reported 3 s after the files were seen still give the lock', () => {
    const run = compare(at10Hz, 45, { verifyMs: 3000 });
    expect(run.schedule.counters).toMatchObject({ locks: 1, losses: 0 });
    expect(run.p50).toBeLessThan(run.plainP50 / 3);
  });

  it('a regular stream of files without due times (not wavefier chunks) is learned from the seen times', () => {
    const run = compare(at1Hz, 10, { withoutDueTimes: true });
    expect(run.schedule.counters.locks).toBeGreaterThanOrEqual(1);
    expect(run.p50).toBeLessThan(run.plainP50 / 2);
  });

  it("at 5 Hz, its detection delay p90 is below half the plain interval schedule's", () => {
    const at5Hz = at10Hz.map((arrival) => ({ ...arrival, due: arrival.due * 2, visible: arrival.due * 2 + (arrival.visible - arrival.due) }));
    const run = compare(at5Hz, 15);
    expect(run.p90).toBeLessThan(run.plainP90 / 2);
  });

  it('a download whose workers are slow to start polls often from when it is ready, not only from its first answered poll', () => {
    const schedule = new PhaseLockedSchedule({ intervalMs: 250 });
    const empty = { fresh: [], requests: 1, full: false, listed: 0 };
    // First answered poll at 0 (the dataset exists, no chunk yet): polls every 20 ms for a while...
    expect(schedule.delayAfter({ startedAt: 0, finishedAt: 2, result: empty })).toBeLessThanOrEqual(20);
    // ...then every interval once that while is over, as long as nothing says the stream is near.
    expect(schedule.delayAfter({ startedAt: 5000, finishedAt: 5002, result: empty })).toBeGreaterThan(200);
    // Ready (the workers connected 5 s late): a rehearsal starts its upload's clock now, chunk 0 is close.
    schedule.ready(5010);
    expect(schedule.delayAfter({ startedAt: 5020, finishedAt: 5022, result: empty })).toBeLessThanOrEqual(20);
    expect(schedule.delayAfter({ startedAt: 9000, finishedAt: 9002, result: empty })).toBeGreaterThan(200);
  });
});

describe('a stream whose schedule was announced (rehearse relays its upload\'s t0 and interval)', () => {
  const firstK = 1_400_000_000;
  const announced: AnnouncedStream = { t0: 0, intervalMs: 100, firstK };
  /** A warm-started rehearsal at rate factor 10: chunk 0 lands 14 ms after its due time, the others 8 ms plus up to `jitterMs`. */
  function warmStream(jitterMs: number, seed = 3): Arrival[] {
    const next = random(seed);
    return Array.from({ length: 60 }, (_, k) => ({ k, due: k * 100, visible: k * 100 + (k === 0 ? 14 : 8 + jitterMs * next()) }));
  }
  function shifted(arrivals: Arrival[], byMs: number): Arrival[] {
    return arrivals.map((arrival) => ({ ...arrival, due: arrival.due + byMs, visible: arrival.visible + byMs }));
  }
  /** Told 10 ms before chunk 0 is due, as rehearse does once its upload has fixed t0 (the download was acquiring since 500 ms before). */
  const toldBefore = (stream: AnnouncedStream = announced) => ({ announce: { at: stream.t0 - 10, stream } });

  it("polls first just after chunk 0's due time and is locked from chunk 0 on", () => {
    const decisions: { decision: string; fields: Record<string, unknown> }[] = [];
    const schedule = new PhaseLockedSchedule({ intervalMs: 250, onDecision: (decision, fields) => decisions.push({ decision, fields }) });
    const run = simulate(warmStream(0), schedule, toldBefore());
    expect(schedule.counters).toMatchObject({ locks: 1, losses: 0 });
    const names = decisions.map((entry) => entry.decision);
    expect(names.indexOf('poll schedule: locked on the announced schedule')).toBeGreaterThan(names.indexOf('poll schedule: schedule announced'));
    // The first prediction is chunk 0's, at its due time plus the initial guard (8 ms).
    expect(decisions.find((entry) => entry.decision === 'poll schedule: predicted arrival')?.fields.k).toBe(firstK);
    const firstAfterDue = run.pollTimes.find((time) => time >= 0);
    expect(firstAfterDue).toBeGreaterThanOrEqual(8);
    expect(firstAfterDue).toBeLessThanOrEqual(8 + pollMs);
    // Found by a follow-up 2 ms after the last (14 ms: 8, 10, 12, 14), not by a poll every 20 ms.
    expect(run.delays[0]).toBeLessThanOrEqual(2);
    // Between the announcement and chunk 0: the poll it woke, the prediction and its follow-ups.
    expect(run.pollTimes.filter((time) => time >= -10 && time <= 14 + run.delays[0]!).length).toBeLessThanOrEqual(5);
    expect(quantile(run.delays.slice(1), 0.5)).toBeLessThanOrEqual(4);
  });

  it('a cold chunk 0 (visible 83 ms after its due time, past its follow-ups) is looked for every few milliseconds until it comes', () => {
    const schedule = lockedSchedule();
    const stream = warmStream(0).map((arrival) => (arrival.k === 0 ? { ...arrival, visible: 83 } : arrival));
    const run = simulate(stream, schedule, toldBefore());
    expect(run.delays[0]).toBeLessThanOrEqual(8 + pollMs);
    expect(schedule.counters).toMatchObject({ locks: 1, losses: 0 });
    // From the announcement to chunk 0: the poll it woke, the prediction, 12 follow-ups over 24 ms, then a poll every 8 ms.
    expect(run.pollTimes.filter((time) => time >= -10 && time <= 83 + run.delays[0]!).length).toBeLessThanOrEqual(2 + 12 + Math.ceil((83 - 32) / 8));
  });

  it("a late chunk 0 is followed up every 2 ms for 24 ms after its prediction, then every 8 ms, and counted as it went", () => {
    for (let late = 9; late <= 60; late += 1.7) {
      const schedule = lockedSchedule();
      const stream = warmStream(0).map((arrival) => (arrival.k === 0 ? { ...arrival, visible: late } : arrival));
      const run = simulate(stream, schedule, toldBefore());
      const polls = run.pollTimes.filter((time) => time >= 8 && time <= late + run.delays[0]!);
      const gaps = polls.slice(1).map((time, index) => time - polls[index]!);
      // The prediction (due + 8), then polls 2 ms apart (a poll takes 2 ms here) up to 24 ms after it, then 8 ms apart.
      expect(polls[0]).toBe(8);
      expect(gaps.every((gap, index) => (polls[index]! + gap - 8 <= 24 ? gap === 2 : gap === 8))).toBe(true);
      expect(polls.filter((time) => time > 8 && time <= 32)).toHaveLength(Math.min(12, polls.length - 1));
      expect(run.delays[0]).toBeLessThan(late <= 32 ? 2 : 8);
      // Every poll is a hit or a miss; the follow-ups are those after the prediction within the quick window.
      expect(schedule.counters.hits + schedule.counters.misses).toBe(run.polls);
      expect(schedule.counters.followUps).toBeGreaterThanOrEqual(Math.min(12, polls.length - 1));
    }
  });

  it('without the announcement the same stream waits for the acquisition polls', () => {
    // Over twenty phases of the acquisition polls against chunk 0's arrival: the announcement's 4 ms is far below their mean.
    const delays = Array.from({ length: 20 }, (_, index) => simulate(warmStream(0), lockedSchedule(), { startMs: 500 + index }).delays[0]!);
    expect(delays.reduce((sum, delay) => sum + delay, 0) / delays.length).toBeGreaterThan(6);
  });

  it('announced, then arrivals with jitter: stays locked from chunk 0 on, as a lock learned from the stream would', () => {
    const stream = warmStream(40);
    const told = compare(stream, 15, toldBefore());
    const learned = compare(stream, 15);
    expect(told.schedule.counters.losses).toBeLessThanOrEqual(learned.schedule.counters.losses);
    expect(told.locked.delays[0]).toBeLessThanOrEqual(16);
    expect(told.p50).toBeLessThan(told.plainP50 / 2);
    expect(told.p90).toBeLessThanOrEqual(learned.p90 + 4);
    expect(told.polls).toBeLessThanOrEqual(2);
  });

  it('a stream that starts 2 s after its announced t0: dropped after three predictions, then acquired as without the announcement', () => {
    const stream = shifted(warmStream(10), 2000);
    const decisions: string[] = [];
    const told = simulate(stream, lockedSchedule(decisions), toldBefore());
    const without = simulate(stream, lockedSchedule(), { startMs: 2500 });
    expect(decisions).toContain('poll schedule: announced schedule dropped: 3 predicted arrivals in a row did not come');
    expect(told.delays.every((delay) => Number.isFinite(delay))).toBe(true);
    expect(told.delays[0]).toBeLessThanOrEqual(20 + pollMs);
    expect(quantile(told.delays.slice(5), 0.5)).toBeLessThanOrEqual(quantile(without.delays.slice(5), 0.5) + 2);
  });

  it('a stream that comes 1 s before its announced t0: dropped at its first file, which the acquisition polls found', () => {
    const stream = shifted(warmStream(10), -1000);
    const decisions: string[] = [];
    const schedule = lockedSchedule(decisions);
    const told = simulate(stream, schedule, { startMs: 500, announce: { at: -1100, stream: announced } });
    expect(decisions).toContain('poll schedule: announced schedule dropped: a file came before its announced due time');
    expect(told.delays[0]).toBeLessThanOrEqual(20 + pollMs);
    expect(schedule.counters.locks).toBe(2);
    expect(quantile(told.delays.slice(5), 0.5)).toBeLessThanOrEqual(8);
  });

  it('the recorded start-up backlog (chunk 0 visible 771 ms after its due time): dropped, and chunk 0 is found as without the announcement', () => {
    const decisions: string[] = [];
    const run = compare(recorded('rate10.json'), 15, toldBefore({ ...announced, firstK: 0 }));
    const told = simulate(recorded('rate10.json'), lockedSchedule(decisions), toldBefore({ ...announced, firstK: 0 }));
    expect(decisions).toContain('poll schedule: announced schedule dropped: 3 predicted arrivals in a row did not come');
    expect(told.delays.every((delay) => Number.isFinite(delay))).toBe(true);
    expect(told.delays[0]).toBeLessThanOrEqual(20 + pollMs);
    expect(run.p50).toBeLessThan(run.plainP50 / 2);
  });

  it('an announcement that comes after chunk 0 was due still polls for chunk 0 at once', () => {
    const decisions: { decision: string; fields: Record<string, unknown> }[] = [];
    const schedule = new PhaseLockedSchedule({ intervalMs: 250, onDecision: (decision, fields) => decisions.push({ decision, fields }) });
    const empty = { fresh: [], requests: 1, full: false, listed: 0 };
    schedule.delayAfter({ startedAt: -300, finishedAt: -298, result: empty });
    schedule.expect(announced, 11);
    const wait = schedule.delayAfter({ startedAt: 11, finishedAt: 13, result: empty });
    expect(wait).toBeLessThanOrEqual(0);
    expect(decisions.at(-1)?.fields.k).toBe(firstK);
  });
});
