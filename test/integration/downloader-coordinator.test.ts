import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEventLog, type EventLog } from '../../src/common/event-log.js';
import { Output } from '../../src/common/output.js';
import { Coordinator, DispatchFailure } from '../../src/downloader/coordinator.js';
import type { ChunkExecutor } from '../../src/downloader/chunk-executor.js';
import { QueueExecutor } from '../../src/downloader/queue-executor.js';
import { downloadJobId, parseDownloadJob, type CorruptedOutcome, type CorruptReadRecord, type InvalidOutcome, type JobSettings, type VerifiedOutcome, type WorkerAnswer } from '../../src/downloader/download-job.js';
import { LocalPaths } from '../../src/downloader/local-paths.js';
import { LostJobWatchdog } from '../../src/downloader/lost-job-watchdog.js';
import { OutcomeLog } from '../../src/downloader/outcome-log.js';
import { DownloadStats } from '../../src/downloader/run-progress.js';
import { WorkerAnswers } from '../../src/downloader/worker-answers.js';
import { bullmqConnection, connectRedis, startPrivateRedis, type PrivateRedis } from '../../src/redis/index.js';
import type { ReplicaRecord } from '../../src/rucio/index.js';

/**
 * The coordinator, the answer stream and the lost-job watchdog against a real redis-server and real
 * BullMQ queues. The worker here answers from a script instead of fetching from a lake: what is under
 * test is how answers come back and what the coordinator does with each (downloader-run.test.ts runs
 * the real worker processes).
 */
let server: PrivateRedis;
let redis: Redis;
let queue: Queue;
let dir: string;
let log: EventLog;
let stderr: string;
let output: Output;
const closers: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  server = await startPrivateRedis({ persistence: 'none' });
  redis = await connectRedis(server.url);
  queue = new Queue(`test-download-${randomBytes(4).toString('hex')}`, { connection: bullmqConnection(server.url) });
  dir = await mkdtemp(join(tmpdir(), 'wavefier-coordinator-'));
  log = openEventLog(join(dir, 'download.jsonl'));
  stderr = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      stderr += chunk.toString('utf8');
      callback();
    },
  });
  output = new Output({ json: false, debug: false, stdout: sink, stderr: sink, env: { CI: '1' } });
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await queue.close();
  redis.disconnect();
  log.close();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

const jobs: JobSettings = { run: 'run-c', scope: 'wavefier', dataset: 'ds-c', subdir: true, keep: 'none', attempts: 2 };

function replica(name: string): ReplicaRecord {
  return {
    scope: 'wavefier',
    name,
    bytes: 4,
    adler32: '0000abcd',
    pfns: [{ pfn: `https://lake.example/wavefier/${name}`, rse: 'LAKE_S3', priority: 1, domain: 'wan' }],
    states: { LAKE_S3: 'AVAILABLE' },
  };
}

function coordinatorWith(stats: DownloadStats, now: () => number = Date.now): Coordinator {
  return new Coordinator({ executor: new QueueExecutor(queue, redis, jobs, log, now), jobs, corruptionRetries: 1, outcomes: new OutcomeLog(log, output), stats, paths: new LocalPaths(false), now });
}

async function logLines(): Promise<Record<string, unknown>[]> {
  log.flush();
  const text = await readFile(join(dir, 'download.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const verified = (tVerified: number): VerifiedOutcome => ({
  status: 'verified',
  bytes: 4,
  adler32: '0000abcd',
  md5: '0123456789abcdef0123456789abcdef',
  pfn: 'https://lake.example/wavefier/x?X-Amz-Signature=secret',
  rse: 'LAKE_S3',
  replicaAttempts: 1,
  tDownloaded: tVerified - 1,
  tVerified,
  run: 'up-1',
  seq: 7,
  tAvail: tVerified - 42,
  corruptReads: [],
});

const badRead = (attempt: number): CorruptReadRecord => ({
  attempt,
  pfn: 'https://lake.example/wavefier/x?X-Amz-Signature=secret',
  rse: 'LAKE_S3',
  adler32: 'ffffffff',
  md5: 'fedcba9876543210fedcba9876543210',
  bytes: 4,
  tRead: 1_700_000_000_000 + attempt,
});

/** Both reads of a job (the official client's two reads per replica) corrupted. */
const corrupted: CorruptedOutcome = {
  status: 'corrupted',
  expectedAdler32: '0000abcd',
  expectedBytes: 4,
  corruptReads: [badRead(1), badRead(2)],
  replicaAttempts: 2,
  tDownloaded: 1_700_000_000_000,
  reason: 'adler32 ffffffff, expected 0000abcd',
};

/** A corrupted read made good by the immediate second read: both are logged. */
const repaired = (tVerified: number): VerifiedOutcome => ({ ...verified(tVerified), replicaAttempts: 2, corruptReads: [badRead(1)] });

const invalid: InvalidOutcome = {
  status: 'invalid',
  bytes: 4,
  adler32: '0000abcd',
  md5: '0123456789abcdef0123456789abcdef',
  pfn: 'https://lake.example/wavefier/x',
  rse: 'LAKE_S3',
  replicaAttempts: 1,
  tDownloaded: 1_700_000_000_000,
  corruptReads: [],
  run: 'up-1',
  seq: 9,
  reason: 'chunk invalid holds GPS start 7, but its name says 8',
};

describe('download coordinator (real Redis and BullMQ)', () => {
  it('queues each new chunk once, keeps it pending until its outcome, and counts and logs every outcome', async () => {
    const stats = new DownloadStats(Date.now());
    const coordinator = coordinatorWith(stats);
    // The worker's answers: by chunk name, and for "bad-once" by how often it was corrupted before.
    const worker = new Worker(
      queue.name,
      async (job: Job): Promise<WorkerAnswer> => {
        const data = parseDownloadJob(job.data);
        if (data.name === 'flaky') throw new Error('connection reset by peer');
        const outcome =
          data.name === 'bad' || (data.name === 'bad-once' && data.corruptions === 0)
            ? corrupted
            : data.name === 'repaired'
              ? repaired(Date.now())
              : data.name === 'invalid'
                ? invalid
                : verified(Date.now());
        return { ...outcome, name: data.name, corruptions: data.corruptions, attempt: job.attemptsMade + 1 };
      },
      { connection: bullmqConnection(server.url), concurrency: 4 },
    );
    closers.push(() => worker.close());
    // The answers come back through the queue's event stream, as from a worker process on another host.
    const answers = new WorkerAnswers(queue.name, bullmqConnection(server.url), coordinator, log);
    closers.push(() => answers.close());

    const names = ['good', 'bad-once', 'bad', 'flaky', 'repaired', 'invalid'];
    await coordinator.dispatch(names.map(replica), 1_700_000_000_500);
    expect(stats.detected).toBe(6);
    await coordinator.drain(20_000);

    expect(coordinator.pending.size).toBe(0);
    // bad: 2 rounds of 2 corrupted reads; bad-once: 1 round of 2; repaired: 1 read made good at once.
    expect(stats).toMatchObject({ detected: 6, verified: 3, corruptedFinal: 1, invalidFinal: 1, failedFinal: 1, corruptedReads: 7 });
    expect(stats.chunksWithCorruptedRead).toBe(3);
    expect(stats.latency()).toEqual({ p50: 42, p99: 42 });

    const events = (await logLines()).filter((line) => typeof line.event === 'string');
    const of = (name: string): unknown[] => events.filter((event) => event.name === name).map((event) => event.event);
    expect(of('good')).toEqual(['verified']);
    expect(of('bad-once')).toEqual(['corrupted', 'corrupted', 'verified']);
    expect(of('bad')).toEqual(['corrupted', 'corrupted', 'corrupted', 'corrupted']);
    expect(of('repaired')).toEqual(['corrupted', 'verified']);
    expect(of('invalid')).toEqual(['invalid']);
    expect(of('flaky')).toEqual(['failed']);
    // Each bad read is numbered among all the reads of its chunk, across corruption rounds.
    const readNumbers = (name: string): unknown[] => events.filter((event) => event.name === name && event.event === 'corrupted').map((event) => event.attempt);
    expect(readNumbers('bad')).toEqual([1, 2, 3, 4]);
    expect(readNumbers('repaired')).toEqual([1]);
    expect(events.find((event) => event.name === 'invalid')).toMatchObject({ run: 'up-1', seq: 9, did: 'wavefier:invalid', error: invalid.reason });
    const attempts = (name: string): unknown[] => events.filter((event) => event.name === name && event.event !== 'corrupted').map((event) => event.attempts);
    expect(attempts('flaky')).toEqual([2]);

    const good = events.find((event) => event.name === 'good')!;
    expect(good).toMatchObject({ run: 'up-1', seq: 7, scope: 'wavefier', dataset: 'ds-c', did: 'wavefier:good', t_detected: 1_700_000_000_500, rse: 'LAKE_S3' });
    // A presigned URL is a credential: only where the chunk came from is logged.
    expect(good.pfn).toBe('https://lake.example/wavefier/x');
    const bad = events.find((event) => event.name === 'bad')!;
    // Bytes that were not decoded say nothing about their run: the line names the DID only, and both checksums.
    expect(bad).toMatchObject({
      did: 'wavefier:bad',
      attempt: 1,
      adler32: 'ffffffff',
      md5: 'fedcba9876543210fedcba9876543210',
      expected_adler32: '0000abcd',
      expected_bytes: 4,
      pfn: 'https://lake.example/wavefier/x',
      error: 'read 1 from LAKE_S3 gave adler32 ffffffff md5 fedcba9876543210fedcba9876543210 (4 bytes); the catalog says adler32 0000abcd md5 - (4 bytes)',
    });
    expect(bad).not.toHaveProperty('expected_md5');
    expect(bad).not.toHaveProperty('run');
    const flaky = events.find((event) => event.name === 'flaky');
    expect(flaky).toMatchObject({ did: 'wavefier:flaky', error: 'connection reset by peer' });
    expect(flaky).not.toHaveProperty('run');

    expect(stderr).toContain('corrupted: bad (adler32 ffffffff, expected 0000abcd); given up');
    expect(stderr).toContain('corrupted: bad-once (adler32 ffffffff, expected 0000abcd); reading it again later');
    expect(stderr).toContain('invalid: invalid (chunk invalid holds GPS start 7, but its name says 8)');
    expect(stderr).toContain('failed: flaky after 2 attempts (connection reset by peer)');
  });

  it('reads a corrupted chunk again under a job id of its own, after a delay', async () => {
    const stats = new DownloadStats(Date.now());
    const coordinator = coordinatorWith(stats);
    await coordinator.dispatch([replica('x')], 1_700_000_000_500);
    coordinator.completed({ ...corrupted, name: 'x', corruptions: 0, attempt: 1 });
    let retry: Job | undefined;
    for (let tries = 0; tries < 100 && retry === undefined; tries++) {
      retry = await queue.getJob(downloadJobId('wavefier', 'x', 1));
      if (retry === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(retry?.opts.delay).toBe(1000);
    expect(await retry?.getState()).toBe('delayed');
    expect(parseDownloadJob(retry?.data)).toMatchObject({ name: 'x', corruptions: 1, tDetected: 1_700_000_000_500 });
    expect(coordinator.pending.get('x')?.corruptions).toBe(1);
    expect(stats).toMatchObject({ corruptedReads: 2, corruptedFinal: 0 });
    expect(coordinator.pending.get('x')?.reads).toBe(2);
  });

  it('ignores answers for chunks it does not hold, and stale answers of an earlier round', async () => {
    const stats = new DownloadStats(Date.now());
    const coordinator = coordinatorWith(stats);
    coordinator.completed({ ...verified(Date.now()), name: 'stray', corruptions: 0, attempt: 1 });
    coordinator.failed(downloadJobId('wavefier', 'stray', 0), 'late failure');
    await coordinator.dispatch([replica('y')], 1_700_000_000_500);
    coordinator.completed({ ...corrupted, name: 'y', corruptions: 0, attempt: 1 });
    // A worker that stalled on round 0 of y answers after round 1 was queued: a duplicate, not an outcome.
    for (let tries = 0; tries < 100 && coordinator.pending.get('y')?.corruptions !== 1; tries++) await new Promise((resolve) => setTimeout(resolve, 10));
    coordinator.completed({ ...verified(Date.now()), name: 'y', corruptions: 0, attempt: 1 });
    coordinator.failed(downloadJobId('wavefier', 'y', 0), 'late failure of round 0');
    expect(coordinator.pending.get('y')?.corruptions).toBe(1);
    expect(stats).toMatchObject({ verified: 0, failedFinal: 0, corruptedReads: 2 });
    expect((await logLines()).map((line) => line.event)).toEqual(['corrupted', 'corrupted']);
  });
});

describe('download coordinator: two DIDs for one file', () => {
  it('refuses, before queuing it, a second DID with a name or local path already taken, naming both', async () => {
    const stats = new DownloadStats(Date.now());
    const settings: JobSettings = { ...jobs, keep: 'all', dest: '/data/down' };
    const coordinator = new Coordinator({ executor: new QueueExecutor(queue, redis, settings, log, Date.now), jobs: settings, corruptionRetries: 1, outcomes: new OutcomeLog(log, output), stats, paths: new LocalPaths(true), now: Date.now });
    const other = { ...replica('legit.hdf5'), scope: 'user.root' };
    // One dataset, one name in two scopes; and on a destination that ignores case, two spellings of one file.
    await coordinator.dispatch([replica('legit.hdf5'), other, replica('Case.hdf5')], 1_700_000_000_500);
    await coordinator.dispatch([replica('CASE.hdf5')], 1_700_000_000_600);
    expect([...coordinator.pending.keys()].sort()).toEqual(['Case.hdf5', 'legit.hdf5']);
    const queued = await queue.getJobs(['waiting', 'delayed', 'active']);
    expect(queued.map((job) => parseDownloadJob(job.data)).map((data) => `${data.replica.scope}:${data.name}`).sort()).toEqual(['wavefier:Case.hdf5', 'wavefier:legit.hdf5']);
    expect(stats).toMatchObject({ detected: 4, failedFinal: 2 });
    const failed = (await logLines()).filter((line) => line.event === 'failed');
    expect(failed.map((line) => [line.did, line.error])).toEqual([
      [
        'user.root:legit.hdf5',
        'user.root:legit.hdf5 has the same name as wavefier:legit.hdf5, already taken by this download: one dataset cannot be downloaded with two files of one name; user.root:legit.hdf5 is not downloaded',
      ],
      [
        'wavefier:CASE.hdf5',
        'wavefier:CASE.hdf5 would be written to /data/down/ds-c/CASE.hdf5, already the file of wavefier:Case.hdf5 (the destination ignores case): not writing one over the other; wavefier:CASE.hdf5 is not downloaded',
      ],
    ]);
    // The same DID offered again (a poll that could not be queued) is still its own.
    await coordinator.dispatch([replica('legit.hdf5')], 1_700_000_000_700);
    expect(stats.failedFinal).toBe(2);
  });
});

describe('lost-job watchdog (real Redis and BullMQ)', () => {
  it('queues again a chunk whose job is gone at two looks in a row, looks at most every 2 s, and notes a chunk in flight for long once', async () => {
    let now = 1_700_000_000_000;
    const clock = (): number => now;
    const stats = new DownloadStats(now);
    const coordinator = coordinatorWith(stats, clock);
    const watchdog = new LostJobWatchdog({ pending: coordinator.pending, queue, redis, scope: 'wavefier', log, requeue: (chunk) => coordinator.requeue(chunk), now: clock });
    await coordinator.dispatch(['a', 'b', 'c'].map(replica), now);
    const jobOf = (name: string): Promise<Job | undefined> => queue.getJob(downloadJobId('wavefier', name, 0));
    const diagnostics = async (message: string): Promise<unknown[]> =>
      (await logLines()).filter((line) => typeof line.msg === 'string' && line.msg.startsWith(message)).map((line) => line.name);

    await (await jobOf('b'))!.remove();
    now += 1_000; // too recent to look for
    await watchdog.check();
    expect(await jobOf('b')).toBeUndefined();

    now += 4_000; // gone at the first look: its answer may still be on its way
    await watchdog.check();
    expect(await jobOf('b')).toBeUndefined();
    expect(await diagnostics('a download job vanished')).toEqual([]);

    now += 2_000; // gone at the second look too, and no answer came: lost
    await watchdog.check();
    expect(await jobOf('b')).toBeDefined();
    expect(coordinator.pending.get('b')?.queuedAt).toBe(now);
    expect(await diagnostics('a download job vanished')).toEqual(['b']);
    // Queued again, not detected again: the chunk is counted once.
    expect(stats.detected).toBe(3);

    await (await jobOf('c'))!.remove();
    now += 1_000; // within 2 s of the last look: nothing happens yet
    await watchdog.check();
    expect(await jobOf('c')).toBeUndefined();

    now += 22_000; // a: 30 s in flight, its job still waiting; c: gone at a first look
    await watchdog.check();
    expect(await jobOf('c')).toBeUndefined();
    const longLines = (await logLines()).filter((line) => line.msg === 'a chunk has been in flight for long; its download job is still in Redis');
    expect(longLines).toEqual([expect.objectContaining({ name: 'a', job: downloadJobId('wavefier', 'a', 0), state: 'waiting', in_flight_ms: 30_000 })]);

    now += 2_000; // c: gone at the second look
    await watchdog.check();
    expect(await jobOf('c')).toBeDefined();
    expect(await diagnostics('a download job vanished')).toEqual(['b', 'c']);

    now += 10_000; // b now 35 s in flight: noted; a was noted already
    await watchdog.check();
    expect(await diagnostics('a chunk has been in flight for long')).toEqual(['a', 'b']);
    expect(coordinator.pending.size).toBe(3);
  });
});

describe('download coordinator: an add whose reply was lost', () => {
  it('offers again only the chunks neither answered nor refused when the add fails after a worker answered some', async () => {
    const stats = new DownloadStats(Date.now());
    const real = new QueueExecutor(queue, redis, jobs, log, Date.now);
    // The real queue takes the jobs and a worker answers for `a` before the add's reply is lost (a
    // connection reset while Redis restarts): what the soak saw once.
    const executor: ChunkExecutor = {
      ...bindAll(real),
      add: async (added) => {
        await real.add(added);
        coordinator.completed({ ...verified(Date.now()), name: 'a', corruptions: 0, attempt: 1 });
        throw new Error('Command aborted due to connection close');
      },
    };
    const paths = new LocalPaths(false);
    // Called once the add is under way, after the coordinator exists.
    const coordinator: Coordinator = new Coordinator({ executor, jobs, corruptionRetries: 1, outcomes: new OutcomeLog(log, output), stats, paths, now: Date.now });
    // `b` is held by another DID already: refused for good before anything is queued.
    expect(paths.claim({ scope: 'other', name: 'b', relativePath: undefined }, '')).toBeUndefined();
    const failure: unknown = await coordinator.dispatch([replica('a'), replica('b'), replica('c')], 1_700_000_000_000).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DispatchFailure);
    expect((failure as DispatchFailure).message).toBe('Command aborted due to connection close');
    expect((failure as DispatchFailure).notQueued.map((left) => left.name)).toEqual(['c']);
    expect([...coordinator.pending.keys()]).toEqual([]);
    expect(stats).toMatchObject({ verified: 1, failedFinal: 1 });
    expect((await logLines()).map((line) => line.event).sort()).toEqual(['failed', 'verified']);
  });
});

/** The executor's methods, bound to it, so that a test can replace one of them. */
function bindAll(executor: QueueExecutor): ChunkExecutor {
  return {
    attach: (target) => executor.attach(target),
    add: (added) => executor.add(added),
    check: () => executor.check(),
    whenReady: (signal) => executor.whenReady(signal),
    readyNote: () => executor.readyNote(),
    verifiedBy: () => executor.verifiedBy(),
    stopTaking: () => executor.stopTaking(),
  };
}
