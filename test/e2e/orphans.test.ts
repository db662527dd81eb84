import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../../src/redis/index.js';
import { descendantsOf, eventually, isRunning, killAll, startForeground, untilFileHolds, type ForegroundJob, type ProcessInfo } from '../helpers/processes.js';

/**
 * No orphans when the owner goes away the way a user makes it go (issue 14, and a download with its
 * two workers found running 1.5 h after its rehearse died): the reader of rehearse's output goes
 * away (`| head -1`), or rehearse is killed with SIGKILL, or its Redis went first. Whatever went
 * first, nothing of the run is left after a bounded time, and the download's log ends with
 * run_finished wherever it could stop gracefully.
 */

const noOrphansWithinMs = 30_000;

let dir: string;
let jobs: ForegroundJob[] = [];
let redis: PrivateRedis | undefined;
/** Every process of the runs started here: a failed test must not leave them behind (their owner is gone by then). */
let seen: ProcessInfo[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wavefier-orphans-'));
  jobs = [];
  seen = [];
  redis = undefined;
});
afterEach(async () => {
  for (const job of jobs) killAll([job.pid, ...descendantsOf(job.pid).map((info) => info.pid)]);
  killAll(seen.map((info) => info.pid));
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

function startRehearse(extra: readonly string[] = []): ForegroundJob {
  // A download worker process too (rehearse's default verifies in the download process): none may be left either.
  const job = startForeground(['--json', 'rehearse', '--count', '600', '--log-dir', join(dir, 'logs'), '--no-plots', '--progress-interval', '1s', '--download-workers', '1', ...extra], { TMPDIR: dir });
  jobs.push(job);
  return job;
}

function runDirOf(): string {
  const [run] = readdirSync(join(dir, 'logs'));
  if (run === undefined) throw new Error('no run directory yet');
  return join(dir, 'logs', run);
}

/** Waits until the download verifies chunks, then lists every process of the run (lake, Redis, reaper, upload, download, workers). */
async function whenRunning(job: ForegroundJob): Promise<{ runDir: string; processes: ProcessInfo[] }> {
  await eventually(() => {
    try {
      runDirOf();
      return true;
    } catch {
      return false;
    }
  }, 60_000);
  const runDir = runDirOf();
  await untilFileHolds(join(runDir, 'download.jsonl'), '"event":"ready"', 60_000);
  await untilFileHolds(join(runDir, 'download.jsonl'), /"did":/, 60_000);
  const processes = descendantsOf(job.pid);
  seen.push(...processes);
  expect(processes.some((info) => info.command.includes(' download-worker '))).toBe(true);
  return { runDir, processes };
}

async function expectNoneLeft(processes: readonly ProcessInfo[]): Promise<void> {
  const left = (): ProcessInfo[] => processes.filter((info) => isRunning(info.pid));
  expect(await eventually(() => left().length === 0, noOrphansWithinMs), JSON.stringify(left().map((info) => info.command.slice(0, 120)))).toBe(true);
}

async function lastEvent(file: string): Promise<Record<string, unknown>> {
  const events = (await readFile(file, 'utf8'))
    .split('\n')
    .filter((line) => line.includes('"event":'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return events.at(-1) ?? {};
}

describe('nothing of a rehearsal outlives it', () => {
  it('stops upload, download and the rest in order when the reader of its output goes away (| head -1)', async () => {
    const job = startRehearse();
    // `| head -1`: the first line read, then the pipe's read end closes.
    const firstLine = new Promise<string>((resolve) => createInterface({ input: job.child.stdout! }).once('line', resolve));
    const { runDir, processes } = await whenRunning(job);
    await firstLine;
    job.child.stdout!.destroy();
    const result = await job.done;
    expect(result.stderr).not.toContain('EPIPE');
    expect(result.code, result.stderr).toBe(143);
    expect(result.stderr).toContain('the reader of the output went away: stopping the rehearsal');
    expect(result.stderr).toContain('stopping upload, then download: interrupted');
    await expectNoneLeft(processes);
    expect(await lastEvent(join(runDir, 'download.jsonl'))).toMatchObject({ event: 'run_finished', reason: 'interrupted' });
    expect(await lastEvent(join(runDir, 'upload.jsonl'))).toMatchObject({ event: 'run_finished', reason: 'interrupted' });
  });

  it('leaves nothing running when rehearse is killed with SIGKILL', async () => {
    const job = startRehearse();
    const { runDir, processes } = await whenRunning(job);
    job.child.kill('SIGKILL');
    await job.done;
    await expectNoneLeft(processes);
    expect(await lastEvent(join(runDir, 'download.jsonl'))).toMatchObject({ event: 'run_finished', reason: 'interrupted' });
  });

  it('leaves nothing running when its Redis went first and then rehearse is killed with SIGKILL', async () => {
    redis = await startPrivateRedis();
    const job = startRehearse(['--redis', redis.url]);
    const { runDir, processes } = await whenRunning(job);
    // What the download found when its owner died: a Redis already gone, a stop with nobody left to force it.
    await redis.kill();
    job.child.kill('SIGKILL');
    await job.done;
    await expectNoneLeft(processes);
    expect(await lastEvent(join(runDir, 'download.jsonl'))).toMatchObject({ event: 'run_finished', reason: 'interrupted' });
  });
});
