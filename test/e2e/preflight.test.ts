import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { repoRoot, wavefierBin } from '../helpers/cli.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';
import { descendantsOf, isRunning, killAll, startForeground } from '../helpers/processes.js';

/**
 * Issue 14: every input problem of upload, download and rehearse is found before anything starts
 * (no lake, no redis-server, no run directory), answered with one line and exit 2 at once; places
 * that cannot take files (read-only, full, forbidden) are named as such at the start; a disk that
 * fills mid-run stops a download with one clear error, exit 1, and no partial file.
 */

interface Timed {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** User + system CPU time of the command and everything it waited for. */
  cpuMs: number;
}

/**
 * Runs the built CLI under `sh`, whose `times` reports the CPU the command used: on this shared,
 * loaded machine wall time says more about the other jobs than about us, CPU time says what the
 * answer cost (a redis-server or a lake started and stopped would show in it, and in the wall time).
 */
function runTimed(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('sh', ['-c', '"$@" >&3; code=$?; times >&4; exit $code', 'sh', process.execPath, wavefierBin, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, CI: '1', NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid }),
    });
    const text = { stdout: '', stderr: '', times: '' };
    const collect = (stream: unknown, key: keyof typeof text): void => {
      (stream as Readable).setEncoding('utf8').on('data', (chunk: string) => (text[key] += chunk));
    };
    collect(child.stdio[3], 'stdout');
    collect(child.stdio[2], 'stderr');
    collect(child.stdio[4], 'times');
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      // The second line of `times`: the children's user and system time, e.g. "0m0.270000s 0m0.050000s".
      const seconds = [...(text.times.trim().split('\n')[1] ?? '').matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
      resolve({ code, stdout: text.stdout, stderr: text.stderr, wallMs: Date.now() - started, cpuMs: Math.round(1000 * seconds.reduce((a, b) => a + b, 0)) });
    });
  });
}

const measured: string[] = [];
let dir: string;
let tmp: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wavefier-preflight-'));
  tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
});
afterAll(() => {
  if (measured.length > 0) console.log(`usage errors (wall / CPU):\n  ${measured.join('\n  ')}`);
});

/** Everything in `dir` but what the test put there: the command must have created nothing. */
function created(): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'tmp' || name === 'empty.hdf5' || name === 'not-strain.hdf5' || name.startsWith('mnt-')) continue;
    found.push(name);
  }
  for (const name of readdirSync(tmp)) found.push(`tmp/${name}`);
  return found;
}

async function expectUsageError(args: readonly string[], message: RegExp, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const result = await runTimed(args, { cwd: dir, env: { TMPDIR: tmp, ...env } });
  measured.push(`${args.slice(0, 6).join(' ')}: ${result.wallMs} ms / ${result.cpuMs} ms CPU (exit ${result.code ?? '?'})`);
  expect(result.code, result.stderr).toBe(2);
  // One line, no stack trace.
  expect(result.stderr.trim().split('\n'), result.stderr).toHaveLength(1);
  expect(result.stderr).toMatch(message);
  expect(result.cpuMs).toBeLessThan(1000);
  expect(created()).toEqual([]);
}

describe('usage problems: one line, exit 2, nothing started or created', () => {
  beforeEach(() => {
    writeFileSync(join(dir, 'empty.hdf5'), '');
    writeFileSync(join(dir, 'not-strain.hdf5'), 'these bytes are not HDF5\n');
  });

  it.each([
    [['rehearse', '--source', 'empty.hdf5', '--log-dir', 'logs'], /empty\.hdf5: empty file \(0 bytes\)/],
    [['rehearse', '--source', 'not-strain.hdf5', '--log-dir', 'logs'], /not-strain\.hdf5/],
    [['rehearse', '--period', '1ms', '--log-dir', 'logs'], /duration must be an integer from 1 to 4096/],
    [['rehearse', '--upload-args', '--bogus-flag', '--log-dir', 'logs'], /the upload this rehearsal starts refuses its flags \(see --upload-args\): unknown option '--bogus-flag'/],
    [['rehearse', '--download-args', '--poll sometimes', '--log-dir', 'logs'], /the download this rehearsal starts refuses its flags \(see --download-args\).*sometimes/],
    [['rehearse', '--upload-args', '--detector xx', '--log-dir', 'logs'], /detector must be a detector code such as H1, L1 or V1, got "xx"/],
    [['rehearse', '--external', '--log-dir', 'logs'], /--rse is required with --external/],
    [['upload', '--source', 'empty.hdf5', '--rse', 'LAKE_S3', '--log-dir', 'logs'], /empty\.hdf5: empty file/],
    [['upload', '--source', 'missing.hdf5', '--rse', 'LAKE_S3', '--log-dir', 'logs'], /missing\.hdf5: no such file/],
    [['upload', '--source', 'synthetic', '--detector', 'Q', '--rse', 'LAKE_S3', '--log-dir', 'logs'], /detector must be a detector code/],
    [['upload', '--source', 'synthetic', '--period', '1ms', '--rse', 'LAKE_S3', '--log-dir', 'logs'], /duration must be an integer from 1 to 4096/],
    [['upload', '--source', 'synthetic', '--rse', 'LAKE_S3', '--dry-run', '--resume', 'x', '--log-dir', 'logs'], /--dry-run plans a new run/],
    [['download', 'wavefier:ds', '--log-dir', 'logs'], /--dir DIR is required unless --keep none/],
    [['download', '--keep', 'none', '--log-dir', 'logs'], /name the dataset to follow/],
    [['report', 'logs'], /pass an existing log or run directory/],
  ])('%j', async (args, message) => {
    // A Rucio configuration that works: no command may get as far as using it.
    await expectUsageError(args, message, { RUCIO_HOME: lake.settings.rucioHome });
  });

  it('report of a directory without logs is a usage error (exit 2)', async () => {
    mkdirSync(join(tmp, 'no-logs'));
    const result = await runTimed(['report', join(tmp, 'no-logs')]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/no upload\*\.jsonl or download\*\.jsonl in .* nor in its subdirectories/);
  });
});

const isRoot = process.getuid?.() === 0;
/** tmpfs mounts, made here and removed after. */
const mounts: string[] = [];

function mountTmpfs(name: string, options: string): string {
  const path = join(dir, `mnt-${name}`);
  mkdirSync(path);
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', path], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`mount tmpfs ${options} on ${path}: ${result.stderr}`);
  mounts.push(path);
  return path;
}

function unmountAll(): void {
  for (const path of mounts.splice(0)) spawnSync('umount', ['-l', path]);
}

/** Fills a file system until it refuses a write: what a full disk looks like. */
function fill(path: string): void {
  spawnSync('sh', ['-c', `dd if=/dev/zero of=${join(path, 'filler')} bs=64k 2>/dev/null; true`]);
}

let lake: TestLake;
beforeAll(async () => {
  lake = await startTestLake();
});
afterAll(async () => {
  unmountAll();
  await lake.dispose();
});

// Mounting file systems and dropping to another user needs root (as in the CI container).
describe.runIf(isRoot)('destinations that cannot take files: named at the start, exit 2', () => {
  beforeEach(() => () => unmountAll());

  it('a read-only --log-dir (EROFS) for upload, rehearse and download, a read-only --dir for download', async () => {
    const ro = mountTmpfs('ro', 'ro,size=1m');
    const env = { RUCIO_HOME: lake.settings.rucioHome };
    await expectUsageError(['upload', '--source', 'synthetic', '--rse', 'LAKE_S3', '--log-dir', join(ro, 'logs')], /cannot write to --log-dir .*: read-only file system \(EROFS\)/, env);
    await expectUsageError(['rehearse', '--log-dir', join(ro, 'logs')], /cannot write to --log-dir .*: read-only file system \(EROFS\)/, env);
    await expectUsageError(['download', 'wavefier:ds', '--dir', join(ro, 'files'), '--log-dir', join(dir, 'logs')], /cannot write to --dir .*: read-only file system \(EROFS\)/, env);
    await expectUsageError(['download', 'wavefier:ds', '--keep', 'none', '--log-dir', ro], /cannot write to --log-dir .*: read-only file system \(EROFS\)/, env);
  });

  it('a full --dir and --log-dir (ENOSPC)', async () => {
    const full = mountTmpfs('full', 'size=2m');
    fill(full);
    const env = { RUCIO_HOME: lake.settings.rucioHome };
    await expectUsageError(['download', 'wavefier:ds', '--dir', join(full, 'files'), '--log-dir', join(dir, 'logs')], /cannot write to --dir .*: no space left on device \(ENOSPC\)/, env);
    await expectUsageError(['upload', '--source', 'synthetic', '--rse', 'LAKE_S3', '--log-dir', full], /cannot write to --log-dir .*: no space left on device \(ENOSPC\)/, env);
    await expectUsageError(['rehearse', '--keep', 'all', '--log-dir', full], /cannot write to --log-dir .*: no space left on device \(ENOSPC\)/, env);
  });

  it('a --log-dir the user may not write to (EACCES)', async () => {
    const locked = join(dir, 'mnt-locked');
    mkdirSync(locked);
    chmodSync(dir, 0o755);
    chmodSync(tmp, 0o777);
    const nobody = 65534;
    const result = await runTimed(['upload', '--source', 'synthetic', '--rse', 'LAKE_S3', '--log-dir', join(locked, 'logs')], {
      cwd: dir,
      env: { TMPDIR: tmp, HOME: tmp },
      uid: nobody,
      gid: nobody,
    });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/cannot write to --log-dir .*: permission denied \(EACCES\)/);
    expect(readdirSync(locked)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('a disk that fills mid-run stops the download with one clear error, exit 1, and no partial file', async () => {
    // Room for a few dozen 45 kB chunks beyond the 1 MB the start-up check asks for.
    const small = mountTmpfs('small', 'size=3m');
    const env = { RUCIO_HOME: lake.settings.rucioHome, TMPDIR: tmp };
    const logs = join(dir, 'logs');
    const feeder = startForeground(['upload', '--source', 'synthetic', '--rse', 'LAKE_S3', '--dataset', 'filling', '--rate-factor', '20', '--count', '400', '--log-dir', join(dir, 'feeder-logs')], env);
    try {
      const download = await runTimed(['download', 'wavefier:filling', '--dir', join(small, 'files'), '--workers', '2', '--log-dir', logs, '--duration', '60s'], { env });
      expect(download.code, download.stderr).toBe(1);
      const errors = download.stderr.split('\n').filter((line) => /error/.test(line));
      expect(errors, download.stderr).toHaveLength(1);
      expect(errors[0]).toMatch(/^wavefier: error: the download stopped: cannot write to --dir .*: no space left on device \(ENOSPC\)/);
      const files = await readdir(join(small, 'files', 'filling'));
      expect(files.length).toBeGreaterThan(0);
      expect(files.filter((name) => name.endsWith('.part'))).toEqual([]);
      // One attempt per chunk the disk refused, not five.
      const lines = (await readFile(join(logs, 'filling', 'download.jsonl'), 'utf8')).split('\n').filter((line) => line !== '');
      expect(lines.filter((line) => line.includes('"event":"retry"') && line.includes('ENOSPC'))).toEqual([]);
      expect(JSON.parse(lines.at(-1) ?? '{}')).toMatchObject({ event: 'run_finished', reason: 'failed' });
    } finally {
      feeder.interrupt('SIGINT');
      await feeder.done;
      killAll(descendantsOf(feeder.pid).map((info) => info.pid).filter(isRunning));
    }
    expect(existsSync(join(small, 'files'))).toBe(true);
  }, 120_000);
});
