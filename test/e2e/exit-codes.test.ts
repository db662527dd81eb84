import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';
import { descendantsOf, isRunning, killAll, startForeground, untilFileHolds, type ForegroundJob } from '../helpers/processes.js';

/**
 * README "Exit status", driven through the built `bin/wavefier`: each command reaches each code the
 * table gives it. Codes exercised at length elsewhere are named where they are: 130 of every command
 * (shutdown.test.ts), upload/download 1 on a chunk failed for good or a full disk (counts.test.ts,
 * preflight.test.ts), report/rehearse 3 (report-cli, rehearse and davs-rehearse tests), download 1
 * on a catalog that never answers (download-fails-loudly.test.ts).
 */

let lake: TestLake;
let dir: string;
const jobs: ForegroundJob[] = [];
/** command → code → how it was reached, printed at the end as the table this test covered. */
const table = new Map<string, Map<number, string>>();

beforeAll(async () => {
  lake = await startTestLake();
  dir = await mkdtemp(join(tmpdir(), 'wavefier-exit-codes-'));
});
afterAll(async () => {
  for (const job of jobs) killAll([job.pid, ...descendantsOf(job.pid).map((info) => info.pid)].filter(isRunning));
  await lake.dispose();
  await rm(dir, { recursive: true, force: true });
  const rows = [...table].map(([command, codes]) => `${command.padEnd(9)} ${[...codes].map(([code, how]) => `${code} (${how})`).join(', ')}`);
  console.log(`exit codes reached:\n  ${rows.join('\n  ')}`);
});

function env(): NodeJS.ProcessEnv {
  return { RUCIO_HOME: lake.settings.rucioHome, TMPDIR: dir };
}

function record(command: string, code: number, how: string): void {
  const codes = table.get(command) ?? new Map<number, string>();
  codes.set(code, how);
  table.set(command, codes);
}

async function expectCode(command: string, args: readonly string[], code: number, how: string): Promise<{ stdout: string; stderr: string }> {
  const result = await runCli([command, ...args], { env: env(), timeoutMs: 120_000 });
  expect(result.code, result.stderr.slice(-2000)).toBe(code);
  record(command, code, how);
  return result;
}

/** The only directory `parent` holds: a rehearsal's run directory. */
async function onlyDir(parent: string): Promise<string> {
  const [only] = await readdir(parent);
  if (only === undefined) throw new Error(`nothing in ${parent}`);
  return join(parent, only);
}

async function terminate(args: readonly string[], readyFile: () => Promise<string>, readyText: string): Promise<number | null> {
  const job = startForeground(args, env());
  jobs.push(job);
  await untilFileHolds(await readyFile(), readyText, 90_000);
  job.interrupt('SIGTERM');
  return (await job.done).code;
}

describe('README "Exit status", command by command (built bin, embedded lake)', () => {
  it('rehearse and report: 0 for a clean run, 5 with one side missing, 2 on a usage error', async () => {
    const logs = join(dir, 'clean');
    await expectCode('rehearse', ['--count', '3', '--rate-factor', '10', '--no-plots', '--log-dir', logs], 0, 'a clean rehearsal');
    const runDir = await onlyDir(logs);
    await expectCode('report', [runDir], 0, 'the clean run');
    const uploadOnly = join(dir, 'upload-only');
    await mkdir(uploadOnly);
    await copyFile(join(runDir, 'upload.jsonl'), join(uploadOnly, 'upload.jsonl'));
    await expectCode('report', [uploadOnly], 5, 'no download log: no verdict');
    await expectCode('report', [join(dir, 'tmp-empty-does-not-exist')], 2, 'a path that does not exist');
    await expectCode('rehearse', ['--rate-factor', 'fast'], 2, 'a bad flag');
  }, 180_000);

  it('rehearse 143 on SIGTERM with its report; report 4 on that run', async () => {
    const logs = join(dir, 'terminated');
    const code = await terminate(['rehearse', '--count', '2000', '--rate-factor', '10', '--no-plots', '--log-dir', logs], async () => {
      for (;;) {
        const entries = await readdir(logs).catch(() => []);
        if (entries.length > 0) return join(logs, entries[0] ?? '', 'download.jsonl');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }, '"event":"verified"');
    expect(code).toBe(143);
    record('rehearse', 143, 'SIGTERM');
    await expectCode('report', [await onlyDir(logs)], 4, 'a run stopped early, nothing lost');
  }, 180_000);

  it('upload: 0, 1 when Redis cannot be reached, 2 on a usage error, 143 on SIGTERM', async () => {
    await expectCode('upload', ['--source', 'synthetic', '--rse', 'LAKE_S3', '--dataset', 'codes', '--count', '3', '--as-fast-as-possible', '--close-dataset', '--log-dir', join(dir, 'up')], 0, '3 chunks');
    await expectCode('upload', ['--source', 'synthetic', '--rse', 'LAKE_S3', '--count', '3', '--redis', 'redis://127.0.0.1:1', '--log-dir', join(dir, 'up')], 1, 'Redis unreachable');
    await expectCode('upload', ['--source', 'synthetic', '--rse', 'LAKE_S3', '--count', '0'], 2, 'a bad flag');
    const logs = join(dir, 'up-term');
    const code = await terminate(
      ['upload', '--source', 'synthetic', '--rse', 'LAKE_S3', '--run-id', 'term', '--rate-factor', '4', '--count', '1000', '--log-dir', logs],
      () => Promise.resolve(join(logs, 'term', 'upload.jsonl')),
      '"event":"uploaded"',
    );
    expect(code).toBe(143);
    record('upload', 143, 'SIGTERM');
  }, 120_000);

  it('download: 0, 2 on a usage error, 143 on SIGTERM', async () => {
    await expectCode('upload', ['--source', 'synthetic', '--rse', 'LAKE_S3', '--dataset', 'codes-dl', '--count', '2', '--as-fast-as-possible', '--close-dataset', '--log-dir', join(dir, 'up')], 0, '2 chunks');
    await expectCode('download', ['wavefier:codes-dl', '--keep', 'none', '--until-closed', '--log-dir', join(dir, 'down')], 0, 'a closed dataset, all verified');
    await expectCode('download', ['wavefier:codes-dl', '--poll', 'sometimes'], 2, 'a bad flag');
    const logs = join(dir, 'down-term');
    const code = await terminate(
      ['download', 'wavefier:codes-dl', '--keep', 'none', '--run-name', 'again', '--log-dir', logs],
      () => Promise.resolve(join(logs, 'again', 'download.jsonl')),
      '"event":"run_started"',
    );
    expect(code).toBe(143);
    record('download', 143, 'SIGTERM');
  }, 120_000);
});
