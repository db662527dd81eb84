import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../src/common/cleanup.js';
import { UnavailableError } from '../../src/common/errors.js';
import { connectRedis } from '../../src/redis/index.js';
import { startLakeProcess, type LakeProcess } from '../../src/rehearse/lake-process.js';
import { startStack } from '../../src/rehearse/stack.js';
import { repoRoot } from '../helpers/cli.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wavefier-rehearse-lake-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('the embedded lake of a rehearsal, in a process of its own', () => {
  it('starts `lake serve` with the children\'s heap limits, takes fault rules over the admin API, and stops', async () => {
    const dir = await freshDir();
    const lines: string[] = [];
    const lake: LakeProcess = await startLakeProcess(join(dir, 'lake'), { ...process.env }, (line) => lines.push(line));
    cleanups.push(() => lake.close());
    expect(lake.settings.dir).toBe(join(dir, 'lake'));
    expect(lake.settings.defaultRse).toBe('LAKE_S3');
    const pid = lake.pid!;
    const environment = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(environment.find((entry) => entry.startsWith('NODE_OPTIONS='))).toContain('--max-old-space-size=256 --max-semi-space-size=4');

    const ping = await fetch(`${lake.settings.rucioHost}/ping`);
    expect(ping.status).toBe(200);
    await lake.setFaults({ storage: [{ method: 'PUT', corruptWriteBurst: 2 }] });
    const faults = (await (await fetch(`${lake.settings.rucioHost}/.lake/faults`, { headers: { 'X-Lake-Admin-Token': lake.settings.adminToken } })).json()) as {
      rules: { storage: unknown[] };
    };
    expect(faults.rules.storage).toEqual([expect.objectContaining({ method: 'PUT', corruptWriteBurst: 2 })]);
    await expect(lake.setFaults({ storage: [{ corruptWriteBurst: -1 }] })).rejects.toThrow(/refused the fault rules with HTTP 400/);
    const state = await lake.faults();
    expect(state.rules).toEqual({ catalog: [], storage: [expect.objectContaining({ method: 'PUT', corruptWriteBurst: 2 })] });
    expect(state.counters.storage).toMatchObject({ corruptedWrites: 0, errors: 0 });
    await lake.clearFaults();
    expect((await lake.faults()).rules).toEqual({ catalog: [], storage: [] });

    await lake.close();
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    // Its notices about being stopped are not forwarded.
    expect(lines.join('\n')).not.toMatch(/SIGTERM/);
  });

  it('starts with a private redis-server as the stack of a run, and the run\'s cleanup stops both', async () => {
    const dir = await freshDir();
    const errors: string[] = [];
    const cleanup = new CleanupStack({ onError: (message) => errors.push(message) });
    cleanups.push(() => cleanup.run());
    const stack = await startStack({ lakeDir: join(dir, 'lake'), onLakeLine: () => undefined, cleanup, env: { ...process.env, RUCIO_CONFIG: '/elsewhere/rucio.cfg' } });
    expect(stack.env.RUCIO_HOME).toBe(stack.lake.settings.rucioHome);
    expect(stack.env.RUCIO_CONFIG).toBeUndefined();
    expect(stack.redisUrl).toBe(stack.redis.url);
    const redis = await connectRedis(stack.redisUrl);
    expect(await redis.ping()).toBe('PONG');
    redis.disconnect();

    await cleanup.run();
    expect(errors).toEqual([]);
    expect(existsSync(`/proc/${stack.lake.pid!}`)).toBe(false);
    await expect(fetch(`${stack.lake.settings.rucioHost}/ping`)).rejects.toThrow();
    await expect(connectRedis(stack.redisUrl, { timeoutMs: 1000 })).rejects.toBeInstanceOf(UnavailableError);
  });

  it('uses a Redis it is given instead of starting one', async () => {
    const dir = await freshDir();
    const cleanup = new CleanupStack({ onError: () => undefined });
    cleanups.push(() => cleanup.run());
    const stack = await startStack({ lakeDir: join(dir, 'lake'), redisUrl: 'redis://127.0.0.1:1', onLakeLine: () => undefined, cleanup });
    expect(stack.redis).toBeUndefined();
    expect(stack.redisUrl).toBe('redis://127.0.0.1:1');
  });

  it('does not outlive a process that started it and was killed with SIGKILL', async () => {
    const dir = await freshDir();
    // The owner runs the built launcher, as a rehearse or a soak process would.
    const script = `
      const { startLakeProcess } = await import(${JSON.stringify(join(repoRoot, 'dist/rehearse/lake-process.js'))});
      const lake = await startLakeProcess(${JSON.stringify(join(dir, 'lake'))}, process.env, () => undefined);
      process.stdout.write(lake.pid + '\\n');
      setInterval(() => undefined, 1000);`;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const ownerExited = new Promise((resolve) => owner.once('exit', resolve));
    const lakePid = await new Promise<number>((resolve, reject) => {
      owner.stdout.setEncoding('utf8').once('data', (text: string) => resolve(Number(text.trim())));
      owner.once('exit', (code) => reject(new Error(`the owner exited with ${code ?? 'a signal'} before its lake was ready`)));
    });
    cleanups.push(async () => {
      if (existsSync(`/proc/${lakePid}`)) process.kill(lakePid, 'SIGKILL');
    });
    expect(existsSync(`/proc/${lakePid}`)).toBe(true);

    owner.kill('SIGKILL');
    await ownerExited;
    for (let tries = 0; tries < 100 && existsSync(`/proc/${lakePid}`); tries++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(existsSync(`/proc/${lakePid}`)).toBe(false);
  });

  it('says why when the lake cannot start', async () => {
    const dir = await freshDir();
    const file = join(dir, 'not-a-directory');
    await writeFile(file, 'x');
    const failure = startLakeProcess(join(file, 'lake'), { ...process.env }, () => undefined);
    await expect(failure).rejects.toBeInstanceOf(UnavailableError);
    await expect(failure).rejects.toThrow(/exited before it was ready \(code \d+\): .*not-a-directory/);
  });
});
