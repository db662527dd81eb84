import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';
import { connectRedis, startPrivateRedis, type PrivateRedis } from '../../src/redis/index.js';
import type { RunSettings } from '../../src/uploader/run-plan.js';
import { RunState } from '../../src/uploader/run-state.js';
import { UnavailableError, UsageError } from '../../src/common/errors.js';

const running: PrivateRedis[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((redis) => redis.stop()));
});

const settings = (runId: string): RunSettings => ({
  runId,
  t0: 1_700_000_000_000,
  periodMs: 1000,
  rateFactor: 1,
  intervalMs: 1000,
  count: 20,
  gpsStart: 1_400_000_000,
  duration: 1,
  source: { kind: 'synthetic', sampleRate: 4096, seed: 1 },
  scope: 'wavefier',
  dataset: 'ds',
  rse: 'LAKE_S3',
  tag: 'WAVEFIER',
  latePolicy: 'catch-up',
  gapPolicy: 'skip',
  logDir: '/tmp/x',
  createdAt: 1,
});

describe('private redis-server', () => {
  it('starts, answers, survives a restart with AOF persistence, and stops', async () => {
    const server = await startPrivateRedis({ persistence: 'aof' });
    running.push(server);
    let client = await connectRedis(server.url);
    await client.set('k', 'v');
    client.disconnect();
    await server.restart();
    client = await connectRedis(server.url);
    expect(await client.get('k')).toBe('v');
    client.disconnect();
    await server.stop();
    await expect(connectRedis(server.url, { timeoutMs: 500 })).rejects.toThrow(UnavailableError);
  });

  it('explains how to get redis-server when it is not installed', async () => {
    await expect(startPrivateRedis({ executable: 'redis-server-that-does-not-exist' })).rejects.toThrow(
      /not installed.*apt-get install redis-server.*--redis URL/,
    );
  });

  it('reports an unreachable Redis with the URL and what to do, without the password', async () => {
    const error = await connectRedis('redis://:hunter2@127.0.0.1:1', { timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toMatch(/cannot reach Redis at redis:\/\/\[redacted\]@127\.0\.0\.1:1/);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('rejects a malformed URL as a usage error', async () => {
    await expect(connectRedis('localhost:6379')).rejects.toThrow(UsageError);
  });
});

describe('run state in Redis', () => {
  it('creates, refuses a duplicate run, loads, and records each outcome exactly once', async () => {
    const server = await startPrivateRedis();
    running.push(server);
    const redis = await connectRedis(server.url);
    try {
      const state = await RunState.create(redis, settings('r1'));
      await expect(RunState.create(redis, settings('r1'))).rejects.toThrow(/already exists.*--resume r1/);
      await state.setNext(7);
      const loaded = await RunState.load(redis, 'r1');
      expect(loaded.next).toBe(7);
      expect(loaded.settings.count).toBe(20);
      await expect(RunState.load(redis, 'nope')).rejects.toThrow(/no run 'nope'/);

      expect(await state.record('uploaded', 3)).toBe(true);
      expect(await state.record('uploaded', 3)).toBe(false);
      // The same call sent again (a reply lost to a broken connection) is still the first.
      expect(await state.record('uploaded', 9, { event: 'uploaded', seq: 9 }, 'attempt-a')).toBe(true);
      expect(await state.record('uploaded', 9, { event: 'uploaded', seq: 9 }, 'attempt-a')).toBe(true);
      expect(await state.record('uploaded', 9, { event: 'uploaded', seq: 9 }, 'attempt-b')).toBe(false);
      // The first record's log line, once: the same call sent again does not add it twice.
      const events = await state.eventsAfter('0');
      expect(events.map((entry) => entry.event)).toEqual([{ event: 'uploaded', seq: 9 }]);
      expect(await state.eventsAfter(events[0]!.id)).toEqual([]);
      expect(await state.record('skipped', 5)).toBe(true);
      expect(await state.record('failed', 0)).toBe(true);
      expect(await state.has('uploaded', 3)).toBe(true);
      expect(await state.has('uploaded', 4)).toBe(false);
      expect(await state.counts()).toEqual({ uploaded: 2, skipped: 1, failed: 1 });
      expect(await state.unaccounted(10)).toEqual([1, 2, 4, 6, 7, 8]);
    } finally {
      redis.disconnect();
    }
  });
});

describe('private redis-server whose owner dies', () => {
  /** Whether the process runs (a zombie waiting for init to collect its status runs no more). */
  const alive = (pid: number): boolean => {
    try {
      return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };

  /** Starts a private redis-server in a Node process of its own (the built dist/), returns its pid and data dir. */
  const startOwner = async (): Promise<{ owner: ChildProcess; pid: number; dir: string }> => {
    const code = `
      import { startPrivateRedis } from './dist/redis/index.js';
      const redis = await startPrivateRedis();
      console.log(JSON.stringify({ pid: redis.pid, dir: redis.dir }));
      setInterval(() => undefined, 1000);
    `;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: owner.stdout }).once('line', resolve);
      owner.once('exit', (exitCode) => reject(new Error(`owner exited with ${exitCode}`)));
    });
    return { owner, ...(JSON.parse(line) as { pid: number; dir: string }) };
  };

  const gone = async (pid: number, dir: string, withinMs: number): Promise<boolean> => {
    const deadline = Date.now() + withinMs;
    while (Date.now() < deadline) {
      if (!alive(pid) && !existsSync(dir)) return true;
      await sleep(50);
    }
    return false;
  };

  it('is stopped and its temporary directory removed when the owner is killed with SIGKILL', async () => {
    const { owner, pid, dir } = await startOwner();
    expect(alive(pid)).toBe(true);
    expect(existsSync(dir)).toBe(true);
    owner.kill('SIGKILL');
    expect(await gone(pid, dir, 4000)).toBe(true);
  });

  it('runs in a process group of its own, which a Ctrl-C to its owner\'s group does not reach', async () => {
    const { owner, pid, dir } = await startOwner();
    try {
      // Field 5 of /proc/<pid>/stat is the process group: the server leads a group of its own.
      const serverGroup = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[2]);
      const ownerGroup = Number(readFileSync(`/proc/${owner.pid!}/stat`, 'utf8').split(') ')[1]?.split(' ')[2]);
      expect(serverGroup).toBe(pid);
      expect(serverGroup).not.toBe(ownerGroup);
    } finally {
      owner.kill('SIGKILL');
      expect(await gone(pid, dir, 4000)).toBe(true);
    }
  });
});
