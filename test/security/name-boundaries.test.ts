import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checksums } from '../../src/common/checksum.js';
import { lfn2path } from '../../src/rucio/index.js';
import { encodeChunk, openSource } from '../../src/strain/index.js';
import { runCli } from '../helpers/cli.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

/**
 * Every user- or catalog-supplied name that becomes a path (issue 15): run ids, run names,
 * dataset names, DID names. Each case runs the built CLI as a user would and checks the refusal
 * (exit status, the flag or DID named) and that nothing appeared outside where it belongs.
 */
let stack: TestStack;
let logDir: string;
beforeEach(async () => {
  stack = await startTestStack();
  // Deep enough that each attack's `..` climbs stay inside the stack's directory, where the test looks.
  logDir = join(stack.dir, 'a', 'b', 'c', 'logs');
  await mkdir(logDir, { recursive: true });
});
afterEach(async () => {
  await stack.dispose();
});

/** Files and directories under the stack's directory, the lake's own state left out. */
async function tree(): Promise<string[]> {
  const entries = await readdir(stack.dir, { recursive: true });
  return entries.filter((path) => path !== 'lake' && !path.startsWith('lake/')).sort();
}

async function createDataset(name: string): Promise<void> {
  const response = await stack.lake.rucio(`/dids/wavefier/${encodeURIComponent(name)}`, { method: 'POST', body: JSON.stringify({ type: 'DATASET' }) });
  expect(response.status, await response.text()).toBe(201);
}

describe('names that become paths are confined, with a clear exit 2 (issue 15)', () => {
  it('upload --run-id ../../evil: refused naming --run-id, no log written outside --log-dir', async () => {
    const before = await tree();
    const result = await runCli(['upload', '--source', 'synthetic', '--count', '1', '--rse', 'LAKE_S3', '--redis', stack.redis.url, '--run-id', '../../evil', '--log-dir', logDir], { env: stack.env });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain("--run-id '../../evil' cannot be used as a path");
    expect(await tree()).toEqual(before);
  });

  it('upload --resume with a climbing run id is refused the same way', async () => {
    const result = await runCli(['upload', '--rse', 'LAKE_S3', '--redis', stack.redis.url, '--resume', '../../../x', '--log-dir', logDir], { env: stack.env });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('--resume');
  });

  it('download --run-name ../../../x: refused naming --run-name, nothing written outside --log-dir', async () => {
    await createDataset('plain-ds');
    const before = await tree();
    const result = await runCli(['download', '--dataset', 'plain-ds', '--keep', 'none', '--duration', '2s', '--redis', stack.redis.url, '--run-name', '../../../x', '--log-dir', logDir], { env: stack.env });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('--run-name');
    expect(await tree()).toEqual(before);
  });

  it('download of a Rucio-valid dataset q/../../../../escds: its default log folder is refused, naming the dataset and --run-name', async () => {
    const dataset = 'q/../../../../escds';
    await createDataset(dataset);
    const before = await tree();
    const result = await runCli(['download', '--dataset', dataset, '--keep', 'none', '--duration', '2s', '--redis', stack.redis.url, '--log-dir', logDir], { env: stack.env });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(dataset);
    expect(result.stderr).toContain('--run-name');
    expect(await tree()).toEqual(before);
  });

  it('download --dest of such a dataset: the <dest>/<dataset> folder is refused (exit 2) before anything is fetched', async () => {
    const dataset = 'q/../../../../escds';
    await createDataset(dataset);
    const dest = join(stack.dir, 'a', 'b', 'c', 'dest');
    await mkdir(dest);
    const before = await tree();
    const result = await runCli(['download', '--dataset', dataset, '--dest', dest, '--duration', '2s', '--redis', stack.redis.url, '--run-name', 'ok', '--log-dir', logDir], { env: stack.env });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('--no-subdir');
    expect(await tree()).toEqual(before);
  });

  it('DID names from the catalog (x/.., a/../collide.hdf5): each refused naming the DID, the good chunk kept, nothing else in --dest', async () => {
    // One real chunk, registered on the posix RSE under three names; the catalog accepts all three.
    const source = await openSource({ kind: 'synthetic', sampleRate: 4096, seed: 3 }, { runId: 'names', gpsStart: 1_418_400_000 });
    const bytes = encodeChunk(source.chunk(0), { tAvail: Date.now() });
    source.close();
    const sums = checksums(bytes);
    const names = ['collide.hdf5', 'a/../collide.hdf5', 'x/..'];
    await createDataset('ds');
    const posix = stack.lake.settings.rses.find((rse) => rse.name === 'LAKE_POSIX')?.prefix ?? '';
    for (const name of names) {
      // Where a file:// URL of the replica leads once resolved (x/.. is a directory: its read fails).
      const path = new URL(`file://${posix}${lfn2path('wavefier', name)}`).pathname;
      if (!path.endsWith('/')) {
        await mkdir(join(path, '..'), { recursive: true });
        await writeFile(path, bytes);
      }
    }
    const attach = await stack.lake.rucio('/dids/wavefier/ds/dids', {
      method: 'POST',
      body: JSON.stringify({ rse: 'LAKE_POSIX', dids: names.map((name) => ({ scope: 'wavefier', name, bytes: bytes.length, adler32: sums.adler32, md5: sums.md5 })) }),
    });
    expect(attach.status, await attach.text()).toBe(201);
    expect((await stack.lake.rucio('/dids/wavefier/ds/status', { method: 'PUT', body: JSON.stringify({ open: false }) })).status).toBe(200);

    const dest = join(stack.dir, 'a', 'b', 'c', 'dest');
    await mkdir(dest);
    const result = await runCli(['download', '--dataset', 'ds', '--dest', dest, '--until-closed', '--duration', '60s', '--redis', stack.redis.url, '--log-dir', logDir], { env: stack.env });
    // The two chunks that cannot be files under --dest are failures of the run (exit 3), each named.
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain("'ds/x/..'");
    expect(result.stderr).toContain("'ds/a/../collide.hdf5'");
    const log = (await readFile(join(logDir, 'ds', 'download.jsonl'), 'utf8')).split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { event?: string; name?: string });
    const outcome = (name: string): string | undefined => log.find((event) => event.name === name && ['verified', 'failed', 'corrupted'].includes(event.event ?? ''))?.event;
    expect(outcome('collide.hdf5')).toBe('verified');
    expect(outcome('a/../collide.hdf5')).toBe('failed');
    expect(outcome('x/..')).toBe('failed');
    // Only the good chunk's file, no temporary files, nothing in the destination root.
    expect((await readdir(dest, { recursive: true })).sort()).toEqual(['ds', join('ds', 'collide.hdf5')]);
    expect((await readFile(join(dest, 'ds', 'collide.hdf5'))).equals(Buffer.from(bytes))).toBe(true);
  });

  it('lake serve --dir and rehearse --log-dir refuse control characters (report --run is matched against the logs, never a path)', async () => {
    const lake = await runCli(['lake', 'serve', '--dir', join(stack.dir, 'bad\u001b[2Jdir')]);
    expect(lake.code).toBe(2);
    expect(lake.stderr).toContain('--dir');
    expect(lake.stderr).not.toContain('\u001b');
    const rehearse = await runCli(['rehearse', '--count', '1', '--log-dir', 'x\ny']);
    expect(rehearse.code).toBe(2);
    expect(rehearse.stderr).toContain('--log-dir');
    expect(await tree()).not.toContainEqual(expect.stringContaining('bad'));
  });
});
