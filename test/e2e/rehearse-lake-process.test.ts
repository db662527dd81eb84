import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/common/errors.js';
import { startLakeProcess, type LakeProcess } from '../../src/rehearse/lake-process.js';

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
    expect(environment.find((entry) => entry.startsWith('NODE_OPTIONS='))).toContain('--max-old-space-size=256 --max-semi-space-size=8');

    const ping = await fetch(`${lake.settings.rucioHost}/ping`);
    expect(ping.status).toBe(200);
    await lake.setFaults({ storage: [{ method: 'PUT', corruptWriteBurst: 2 }] });
    const faults = (await (await fetch(`${lake.settings.rucioHost}/.lake/faults`, { headers: { 'X-Lake-Admin-Token': lake.settings.adminToken } })).json()) as {
      rules: { storage: unknown[] };
    };
    expect(faults.rules.storage).toEqual([expect.objectContaining({ method: 'PUT', corruptWriteBurst: 2 })]);
    await expect(lake.setFaults({ storage: [{ corruptWriteBurst: -1 }] })).rejects.toThrow(/refused the fault rules with HTTP 400/);

    await lake.close();
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    // Its notices about being stopped are not forwarded.
    expect(lines.join('\n')).not.toMatch(/SIGTERM/);
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
