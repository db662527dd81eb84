import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetPoller } from '../../src/downloader/index.js';
import { ClosedDatasetProbe } from '../../src/downloader/stop-rules.js';
import { uploadFile } from '../../src/rucio/index.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeEach(async () => {
  stack = await startTestStack();
});
afterEach(async () => {
  await stack.dispose();
});

async function addFiles(dataset: string, names: string[]): Promise<void> {
  await stack.rucio.addDataset('wavefier', dataset);
  await attachFiles(dataset, names);
}

async function attachFiles(dataset: string, names: string[]): Promise<void> {
  for (const name of names) {
    await uploadFile(stack.rucio, { scope: 'wavefier', name, bytes: Buffer.from(name), dataset: { scope: 'wavefier', name: dataset }, rse: 'LAKE_S3' });
  }
}

describe('incremental poller reconciliation', () => {
  it('skips the costly full listing when the dataset length shows nothing unseen, and does it when something is', async () => {
    await addFiles('ds-poll', ['f-1', 'f-2', 'f-3']);
    let now = 1_000_000;
    const poller = new DatasetPoller({
      client: stack.rucio,
      scope: 'wavefier',
      dataset: 'ds-poll',
      mode: 'incremental',
      reconcileEveryMs: 1000,
      overlapMs: 2000,
      now: () => now,
    });
    const first = await poller.poll();
    expect(first.fresh.map((replica) => replica.name).sort()).toEqual(['f-1', 'f-2', 'f-3']);
    expect(first.full).toBe(true);

    now += 5000; // reconciliation is due, but every file is known: one length probe, no full listing
    const quiet = await poller.poll();
    expect(quiet).toMatchObject({ full: false, requests: 2, fresh: [] });

    poller.forget({ scope: 'wavefier', name: 'f-2' }); // as if its listing had been lost: the length now exceeds what is known
    now += 5000;
    const reconciled = await poller.poll();
    expect(reconciled.full).toBe(true);
    expect(reconciled.fresh.map((replica) => replica.name)).toEqual(['f-2']);
    // The dataset's names, then the replicas of the one name not seen: the length, the names, one replica.
    expect(reconciled).toMatchObject({ requests: 3, listed: 1 });
  });
});

describe('a dataset that does not exist (yet)', () => {
  it('is told apart from an empty one, which Rucio lists the same way: both answer no replicas', async () => {
    const options = { client: stack.rucio, scope: 'wavefier', mode: 'incremental' as const, reconcileEveryMs: 60_000, overlapMs: 2000 };
    const missing = new DatasetPoller({ ...options, dataset: 'ds-absent' });
    await expect(missing.poll()).rejects.toMatchObject({ code: 'not-found' });
    await stack.rucio.addDataset('wavefier', 'ds-absent');
    // The same poller once it exists: one extra request to learn that, none afterwards.
    expect(await missing.poll()).toMatchObject({ fresh: [], requests: 2 });
    expect(await missing.poll()).toMatchObject({ fresh: [], requests: 1 });
  });
});

describe('--until-closed probe', () => {
  it('reads whether the dataset is closed and how many files it holds, asking at most once a second', async () => {
    await addFiles('ds-close', ['g-1', 'g-2']);
    const probe = new ClosedDatasetProbe(stack.rucio, 'wavefier', 'ds-close');
    expect(await probe.refresh(10_000)).toBe(1);
    // As in Rucio, a dataset's length is recorded when it is closed; before, only a dynamic lookup counts it.
    expect(probe).toMatchObject({ closed: false, length: undefined });
    await stack.rucio.closeDataset('wavefier', 'ds-close');
    expect(await probe.refresh(10_999)).toBe(0);
    expect(probe.closed).toBe(false);
    expect(await probe.refresh(11_000)).toBe(1);
    expect(probe).toMatchObject({ closed: true, length: 2 });
  });
});

describe('incremental look-back sized from the catalog clock', () => {
  it("looks back from the previous poll's start by the measured offset and the registration margin, not the fixed overlap, and misses nothing", async () => {
    await addFiles('ds-clock', ['c-1']);
    const poller = new DatasetPoller({
      client: stack.rucio,
      scope: 'wavefier',
      dataset: 'ds-clock',
      mode: 'incremental',
      reconcileEveryMs: 3_600_000,
      overlapMs: 5000,
      catalogClock: stack.rucio.catalogClock,
      registrationMarginMs: 200,
    });
    expect((await poller.poll()).fresh.map((replica) => replica.name)).toEqual(['c-1']);
    // The lake runs on this host: the Date headers of its answers put its clock within a second of ours.
    const offset = stack.rucio.catalogClock.offset();
    expect(offset?.low).toBeLessThanOrEqual(0);
    expect(offset?.low).toBeGreaterThan(-1000);

    await attachFiles('ds-clock', ['c-2', 'c-3']);
    const second = await poller.poll();
    expect(second.fresh.map((replica) => replica.name).sort()).toEqual(['c-2', 'c-3']);
    // Not a sweep (the first poll listed everything): at most the offset's lower bound and the second
    // Rucio rounds down to; far below the 5 s fallback.
    expect(second.sweep).toBe(false);
    expect(second.lookBackMs).toBeGreaterThanOrEqual(0);
    expect(second.lookBackMs).toBeLessThanOrEqual(1000 + 1000);
    expect(second.listed).toBeGreaterThanOrEqual(2);

    // A file registered right after a poll started is still found by the next one.
    const racing = attachFiles('ds-clock', ['c-4']);
    const during = await poller.poll();
    await racing;
    const after = await poller.poll();
    expect([...during.fresh, ...after.fresh].map((replica) => replica.name)).toEqual(['c-4']);
  });
});

describe('incremental polls between sweeps', () => {
  // The lake runs on this host, on this host's clock: its offset is exactly zero. Its update times
  // keep milliseconds, so no poll needs to look back a whole second.
  const sameClock = { offset: () => ({ low: 0, high: 0, samples: 1 }) };
  const listedNames = async (poller: DatasetPoller): Promise<{ fresh: string[]; listed: number; sweep: boolean | undefined }> => {
    // A file stamped in the millisecond a poll starts is listed by the next poll too (it may have
    // been committed after the listing was read): these polls start in a later millisecond.
    await new Promise((done) => setTimeout(done, 3));
    const result = await poller.poll();
    return { fresh: result.fresh.map((replica) => replica.name).sort(), listed: result.listed, sweep: result.sweep };
  };

  it('list each file once in steady state, even when every poll finds new files', async () => {
    await addFiles('ds-steady', ['s-0']);
    const poller = new DatasetPoller({
      client: stack.rucio,
      scope: 'wavefier',
      dataset: 'ds-steady',
      mode: 'incremental',
      reconcileEveryMs: 3_600_000,
      overlapMs: 2000,
      catalogClock: sameClock,
      catalogResolutionMs: 1,
      sweepEveryMs: 3_600_000,
    });
    expect(await listedNames(poller)).toMatchObject({ fresh: ['s-0'], listed: 1 });
    let listed = 0;
    const batches = [['s-1', 's-2'], ['s-3'], ['s-4', 's-5', 's-6'], ['s-7']];
    for (const batch of batches) {
      await attachFiles('ds-steady', batch);
      const round = await listedNames(poller);
      expect(round).toEqual({ fresh: batch, listed: batch.length, sweep: false });
      listed += round.listed;
    }
    expect(listed).toBe(7);
    expect(poller.knownCount).toBe(8);
  });

  it('find a file whose replica was stamped before a poll and attached after it, by the next sweep, with no full listing', async () => {
    await addFiles('ds-late', ['l-1']);
    // The first poll starts in a later millisecond than l-1's registration (see listedNames).
    await new Promise((done) => setTimeout(done, 3));
    let now = Date.now();
    const poller = new DatasetPoller({
      client: stack.rucio,
      scope: 'wavefier',
      dataset: 'ds-late',
      mode: 'incremental',
      reconcileEveryMs: 3_600_000,
      overlapMs: 2000,
      catalogClock: sameClock,
      catalogResolutionMs: 1,
      registrationMarginMs: 1000,
      sweepEveryMs: 5000,
      now: () => now,
    });
    expect((await listedNames(poller)).fresh).toEqual(['l-1']);
    // The official client's order: the replica is registered (its update time is now), then attached later.
    const late = { scope: 'wavefier', name: 'l-late', bytes: 4, adler32: '045d01c1' };
    await stack.rucio.addReplicas('LAKE_S3', [{ ...late, state: 'A' }]);
    await new Promise((done) => setTimeout(done, 20));
    now = Date.now();
    expect(await listedNames(poller)).toEqual({ fresh: [], listed: 0, sweep: false });
    await stack.rucio.attachDids('wavefier', 'ds-late', [{ scope: 'wavefier', name: 'l-late' }]);
    now = Date.now();
    // Its update time is before the previous poll's start: the polls between sweeps do not see it...
    expect(await listedNames(poller)).toEqual({ fresh: [], listed: 0, sweep: false });
    // ...the sweep, which looks back to the previous sweep's start less the margin, does.
    now += 5000;
    const sweep = await poller.poll();
    expect(sweep).toMatchObject({ sweep: true, full: false, requests: 1 });
    expect(sweep.fresh.map((replica) => replica.name)).toEqual(['l-late']);
    // And the next poll is no sweep, and lists nothing again.
    now += 100;
    expect(await listedNames(poller)).toEqual({ fresh: [], listed: 0, sweep: false });
  });

  it('look back a whole second at a catalog that keeps seconds (the default resolution), and send Rucio its second format', async () => {
    await addFiles('ds-second', ['w-1']);
    const poller = new DatasetPoller({
      client: stack.rucio,
      scope: 'wavefier',
      dataset: 'ds-second',
      mode: 'incremental',
      reconcileEveryMs: 3_600_000,
      overlapMs: 2000,
      catalogClock: sameClock,
      sweepEveryMs: 3_600_000,
    });
    await poller.poll();
    await attachFiles('ds-second', ['w-2']);
    const next = await poller.poll();
    expect(next.fresh.map((replica) => replica.name)).toEqual(['w-2']);
    expect(next.sweep).toBe(false);
    // Rounded down to the second: between 0 and 1 s before the previous poll's start.
    expect(next.lookBackMs).toBeGreaterThanOrEqual(0);
    expect(next.lookBackMs).toBeLessThan(1000);
  });
});
