import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestLake, type TestLake } from '../helpers/lake.js';
import {
  descendantsOf,
  eventually,
  isRunning,
  killAll,
  startForeground,
  untilFileHolds,
  type ForegroundJob,
  type ProcessInfo,
} from '../helpers/processes.js';

/**
 * Ctrl-C as a user gives it: SIGINT to the foreground process group of the built `bin/wavefier`.
 * Each command must come back within DESIGN §5's 5 s with its summary or report and status 130,
 * every log ending with run_finished (reason interrupted), and nothing of it left running (checked by
 * pid: the private redis-server, its reaper, the lake, upload, download and their worker processes)
 * nor in its temporary directory. A SIGKILL of the owner must leave nothing behind either.
 */

const stopBudgetMs = 5000;
/** The stop times measured here, printed at the end (the closing note quotes them). */
const measured: string[] = [];

let lake: TestLake;
let dir: string;
let tmp: string;
let jobs: ForegroundJob[] = [];

beforeAll(async () => {
  lake = await startTestLake();
});
afterAll(async () => {
  await lake.dispose();
  if (measured.length > 0) console.log(`stop times after SIGINT to the process group:\n  ${measured.join('\n  ')}`);
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wavefier-shutdown-'));
  // The processes' own temporary directory: what a private redis-server leaves would show here.
  tmp = join(dir, 'tmp');
  await mkdir(tmp);
  jobs = [];
  return async () => {
    for (const job of jobs) killAll([job.pid, ...descendantsOf(job.pid).map((info) => info.pid)]);
    await setFaults(undefined);
    await rm(dir, { recursive: true, force: true });
  };
});

function start(args: readonly string[], env: NodeJS.ProcessEnv = {}): ForegroundJob {
  const job = startForeground(args, { RUCIO_HOME: lake.settings.rucioHome, TMPDIR: tmp, ...env });
  jobs.push(job);
  return job;
}

/** An upload that feeds a download under test: its own private Redis lives in a temporary directory of its own. */
async function startFeeder(args: readonly string[]): Promise<ForegroundJob> {
  const own = join(dir, 'feeder-tmp');
  await mkdir(own);
  return start(['upload', '--source', 'synthetic', '--rse', 'LAKE_S3', '--log-dir', join(dir, 'feeder-logs'), ...args], { TMPDIR: own });
}

/** What a private redis-server left in the temporary directory (the Rucio token cache lives there too, rightly). */
function redisLeftovers(): string[] {
  return readdirSyncSafe(tmp).filter((name) => name.startsWith('wavefier-redis-'));
}

async function setFaults(spec: unknown): Promise<void> {
  const response = await fetch(`${lake.settings.rucioHost}/.lake/faults`, {
    method: spec === undefined ? 'DELETE' : 'POST',
    headers: { 'X-Lake-Admin-Token': lake.settings.adminToken, 'Content-Type': 'application/json' },
    ...(spec === undefined ? {} : { body: JSON.stringify(spec) }),
  });
  expect(response.status).toBe(200);
}

async function lastEvent(file: string): Promise<Record<string, unknown>> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line.trim() !== '');
  return JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>;
}

/**
 * Sends Ctrl-C to the job's process group and checks the stop: status, time, nothing left running of
 * what ran below it just before, nothing left in its temporary directory. Returns its output.
 */
async function interruptAndCheck(job: ForegroundJob, label: string): Promise<{ stdout: string; stderr: string }> {
  const below: ProcessInfo[] = descendantsOf(job.pid);
  const sentAt = job.interrupt('SIGINT');
  const result = await job.done;
  const stopMs = result.exitedAt - sentAt;
  measured.push(`${label}: ${stopMs} ms (exit ${result.code ?? result.signal ?? '?'}; ${below.length} processes below it)`);
  expect(result.code, result.stderr).toBe(130);
  expect(stopMs).toBeLessThan(stopBudgetMs);
  // The owner waited for each of them; a reaper told to stand down exits a moment later.
  const left = (): ProcessInfo[] => below.filter((info) => isRunning(info.pid));
  expect(await eventually(() => left().length === 0, 1000), JSON.stringify(left())).toBe(true);
  expect(redisLeftovers()).toEqual([]);
  return result;
}

describe('Ctrl-C of upload (private Redis)', () => {
  it.each([
    ['at 2 chunks/s', ['--rate-factor', '2', '--count', '1000']],
    ['as fast as possible', ['--as-fast-as-possible', '--count', '100000']],
  ])('stops %s within 5 s with its summary, status 130 and run_finished', async (rate, flags) => {
    const logDir = join(dir, 'logs');
    const job = start(['--json', 'upload', '--source', 'synthetic', '--rse', 'LAKE_S3', '--run-id', 'ctrl-c', '--log-dir', logDir, ...flags]);
    const log = join(logDir, 'ctrl-c', 'upload.jsonl');
    await untilFileHolds(log, '"event":"uploaded"', 60_000);
    const { stdout } = await interruptAndCheck(job, `upload ${rate}`);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { interrupted: boolean; uploaded: number; enqueued: number };
    expect(summary.interrupted).toBe(true);
    expect(summary.uploaded).toBeGreaterThan(0);
    expect(await lastEvent(log)).toMatchObject({ event: 'run_finished', reason: 'interrupted', counts: { enqueued: summary.enqueued } });
  });

  it('stops within 5 s while every chunk is waiting for a retry', async () => {
    await setFaults({ storage: [{ method: 'PUT', errorRate: 1, status: 503 }] });
    const logDir = join(dir, 'logs');
    const job = start(['upload', '--source', 'synthetic', '--rse', 'LAKE_S3', '--run-id', 'retrying', '--log-dir', logDir, '--rate-factor', '10', '--count', '1000']);
    const log = join(logDir, 'retrying', 'upload.jsonl');
    await untilFileHolds(log, '"event":"retry"', 60_000);
    const { stdout } = await interruptAndCheck(job, 'upload, chunks retrying');
    expect(stdout).toMatch(/upload run retrying \(interrupted\)/);
    expect(await lastEvent(log)).toMatchObject({ event: 'run_finished', reason: 'interrupted' });
  });

  it('leaves no redis-server and no temporary directory when killed with SIGKILL', async () => {
    const logDir = join(dir, 'logs');
    const job = start(['upload', '--source', 'synthetic', '--rse', 'LAKE_S3', '--run-id', 'killed', '--log-dir', logDir, '--rate-factor', '5', '--count', '1000']);
    await untilFileHolds(join(logDir, 'killed', 'upload.jsonl'), '"event":"uploaded"', 60_000);
    const below = descendantsOf(job.pid);
    expect(below.some((info) => info.command.startsWith('redis-server'))).toBe(true);
    job.child.kill('SIGKILL');
    await job.done;
    expect(await eventually(() => below.every((info) => !isRunning(info.pid)), 4000), JSON.stringify(below.filter((info) => isRunning(info.pid)))).toBe(true);
    expect(await eventually(() => redisLeftovers().length === 0, 1000), JSON.stringify(redisLeftovers())).toBe(true);
  });
});

describe('Ctrl-C of download (private Redis, worker processes)', () => {
  it.each([
    ['following a paced upload', ['--rate-factor', '4', '--count', '2000']],
    ['following an unpaced upload', ['--as-fast-as-possible', '--count', '100000']],
  ])('stops %s within 5 s with its summary, status 130 and run_finished', async (rate, uploadFlags) => {
    const logDir = join(dir, 'logs');
    const dataset = `ds-${rate.length}`;
    const upload = await startFeeder(['--dataset', dataset, ...uploadFlags]);
    const download = start(['--json', 'download', '--dataset', dataset, '--dest', join(dir, 'files'), '--workers', '2', '--log-dir', logDir]);
    const log = join(logDir, dataset, 'download.jsonl');
    await untilFileHolds(log, '"event":"verified"', 90_000);
    const { stdout } = await interruptAndCheck(download, `download ${rate}`);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { stopReason: string; verified: number };
    expect(summary).toMatchObject({ stopReason: 'interrupted' });
    expect(summary.verified).toBeGreaterThan(0);
    expect(await lastEvent(log)).toMatchObject({ event: 'run_finished', reason: 'interrupted', counts: { verified: summary.verified } });
    // No file half written.
    const files = await readdir(join(dir, 'files', dataset));
    expect(files.filter((name) => name.endsWith('.part'))).toEqual([]);
    upload.interrupt('SIGINT');
    expect((await upload.done).code).toBe(130);
  });

  it('stops within 5 s while its chunks wait for a retry', async () => {
    const logDir = join(dir, 'logs');
    const upload = await startFeeder(['--dataset', 'ds-retry', '--rate-factor', '10', '--count', '2000']);
    const download = start(['download', '--dataset', 'ds-retry', '--keep', 'none', '--workers', '2', '--log-dir', logDir]);
    const log = join(logDir, 'ds-retry', 'download.jsonl');
    await untilFileHolds(log, '"event":"verified"', 90_000);
    await setFaults({ storage: [{ method: 'GET', errorRate: 1, status: 503 }] });
    // New chunks keep coming and every read of them fails: they wait in the queue for their retries.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await interruptAndCheck(download, 'download, chunks retrying');
    expect(await lastEvent(log)).toMatchObject({ event: 'run_finished', reason: 'interrupted' });
    upload.interrupt('SIGINT');
    await upload.done;
  });
});

describe('Ctrl-C of rehearse (embedded lake, private Redis, upload and download as processes)', () => {
  it.each([
    ['at 10 chunks/s', ['--count', '3000', '--rate-factor', '10'], undefined],
    // Enough attempts that no chunk fails for good (that would rightly make the report FAIL, exit 3).
    ['unpaced, a third of the PUTs failing', ['--count', '100000', '--as-fast-as-possible', '--upload-args', '--attempts 12'], '{"storage":[{"method":"PUT","errorRate":0.33,"status":503}]}'],
  ])('stops %s within 5 s with its report, status 130 and both logs ending with run_finished', async (rate, flags, faults) => {
    const logDir = join(dir, 'logs');
    const job = start(['rehearse', '--log-dir', logDir, ...flags, ...(faults === undefined ? [] : ['--faults', faults])]);
    // The run directory is the one folder the rehearsal makes under --log-dir.
    let runDir = '';
    await eventually(() => {
      const [only] = readdirSyncSafe(logDir);
      runDir = only === undefined ? '' : join(logDir, only);
      return only !== undefined;
    }, 60_000);
    await untilFileHolds(join(runDir, 'download.jsonl'), '"event":"verified"', 120_000);
    const { stdout } = await interruptAndCheck(job, `rehearse ${rate}`);
    expect(stdout).toMatch(/^INTERRUPTED after [\d,]+ of [\d,]+ scheduled chunks/m);
    expect(await lastEvent(join(runDir, 'upload.jsonl'))).toMatchObject({ event: 'run_finished', reason: 'interrupted' });
    expect(await lastEvent(join(runDir, 'download.jsonl'))).toMatchObject({ event: 'run_finished', reason: 'interrupted' });
  });

  it('leaves nothing running when killed with SIGKILL, and its upload and download still end their logs', async () => {
    const logDir = join(dir, 'logs');
    // With a download worker process (rehearse's default verifies in the download process): none may be left either.
    const job = start(['rehearse', '--log-dir', logDir, '--count', '3000', '--rate-factor', '10', '--download-workers', '1']);
    let runDir = '';
    await eventually(() => {
      const [only] = readdirSyncSafe(logDir);
      runDir = only === undefined ? '' : join(logDir, only);
      return only !== undefined;
    }, 60_000);
    await untilFileHolds(join(runDir, 'download.jsonl'), '"event":"verified"', 120_000);
    const below = descendantsOf(job.pid);
    // The lake, Redis and its reaper, upload, download and the download's worker processes.
    expect(below.length).toBeGreaterThanOrEqual(6);
    job.child.kill('SIGKILL');
    await job.done;
    const left = (): ProcessInfo[] => below.filter((info) => isRunning(info.pid));
    expect(await eventually(() => left().length === 0, 8000), JSON.stringify(left())).toBe(true);
    expect(redisLeftovers()).toEqual([]);
    expect(await lastEvent(join(runDir, 'upload.jsonl'))).toMatchObject({ event: 'run_finished', reason: 'interrupted' });
    expect(await lastEvent(join(runDir, 'download.jsonl'))).toMatchObject({ event: 'run_finished', reason: 'interrupted' });
  });
});

function readdirSyncSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
