import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { uploadFile } from '../../src/rucio/index.js';
import { runCli, sharedDir } from '../helpers/cli.js';
import { readEvents, startTestStack, type TestStack } from '../helpers/stack.js';

/**
 * What the verdict says about the content of a dataset (built bin, embedded lake, real Redis): a file
 * that is not a wavefier chunk but matches the catalog is foreign, not corrupted; every corrupted read
 * the lake serves is in the download log, and the report counts exactly what the lake injected.
 */

let stack: TestStack;
beforeEach(async () => {
  stack = await startTestStack();
});
afterEach(async () => {
  await stack.dispose();
});

const logs = (): string => join(stack.dir, 'logs');

function upload(dataset: string, runId: string, count: number): ReturnType<typeof runCli> {
  return runCli(
    ['upload', '--source', 'synthetic', '--count', String(count), '--rate-factor', '20', '--rse', 'LAKE_S3', '--dataset', dataset, '--run-id', runId, '--redis', stack.redis.url, '--close-dataset', '--log-dir', logs()],
    { env: stack.env, timeoutMs: 90_000 },
  );
}

function download(dataset: string, extra: string[]): ReturnType<typeof runCli> {
  return runCli(['--json', 'download', '--dataset', dataset, '--until-closed', '--workers', '2', '--redis', stack.redis.url, '--log-dir', logs(), ...extra], {
    env: stack.env,
    timeoutMs: 120_000,
  });
}

async function report(runId: string): Promise<{ code: number | null; text: string; json: { verdict: { state: string }; integrity: Record<string, number>; latency: { total: { count: number } } } }> {
  const text = await runCli(['report', '--no-plots', '--run', runId, logs()], { timeoutMs: 60_000 });
  const json = await runCli(['--json', 'report', '--no-plots', '--run', runId, logs()], { timeoutMs: 60_000 });
  expect(json.code).toBe(text.code);
  return { code: text.code, text: text.stdout, json: JSON.parse(json.stdout) as never };
}

describe('foreign files and corrupted reads (built bin, embedded lake, real Redis)', () => {
  it('keeps a file added like `rucio upload` does, that is no wavefier chunk, as verified and foreign: PASS, foreign 1', async () => {
    const dataset = 'chunks-and-a-gwosc-file';
    await stack.rucio.addDataset('wavefier', dataset);
    // The official client's sequence (register COPYING, PUT, mark AVAILABLE, attach), with a real GWOSC file.
    const gwosc = 'H-H1_LOSC_4_V2-1126259446-32.hdf5';
    const bytes = await readFile(join(sharedDir, 'data', 'gwosc', gwosc));
    await uploadFile(stack.rucio, { scope: 'wavefier', name: gwosc, bytes, dataset: { scope: 'wavefier', name: dataset }, rse: 'LAKE_S3', mode: 'rucio-compatible' });
    const up = await upload(dataset, 'with-foreign', 5);
    expect(up.code, up.stderr).toBe(0);

    const dest = join(stack.dir, 'dest');
    const down = await download(dataset, ['--dest', dest]);
    expect(down.code, down.stderr).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({ verified: 6, foreign: 1, corrupted: 0, corruptedReads: 0, invalid: 0, failed: 0 });
    expect(down.stderr).toContain(`foreign file: ${gwosc} is not a wavefier chunk; its bytes match the catalog, so it is kept as verified`);
    // Kept like any other file, byte for byte.
    expect(existsSync(join(dest, dataset, gwosc))).toBe(true);
    expect((await readFile(join(dest, dataset, gwosc))).equals(bytes)).toBe(true);
    const lines = await readEvents(join(logs(), dataset), 'download');
    expect(lines.filter((line) => line.name === gwosc).map((line) => line.event)).toEqual(['verified']);
    const foreignLine = lines.find((line) => line.name === gwosc)!;
    expect(foreignLine).toMatchObject({ foreign: true, did: `wavefier:${gwosc}`, bytes: bytes.byteLength });
    expect(foreignLine).not.toHaveProperty('run');

    const { code, text, json } = await report('with-foreign');
    expect(code).toBe(0);
    expect(json.verdict.state).toBe('pass');
    expect(json.integrity).toMatchObject({ scheduled: 5, uploaded: 5, verified: 5, foreign: 1, corrupted: 0, invalid: 0, not_in_upload_log: 0 });
    // Not a chunk: no latency sample.
    expect(json.latency.total.count).toBe(5);
    expect(text).toMatch(/\n {2}foreign +1 {2}files in the dataset that are not wavefier chunks/);
    expect(text.trimEnd().split('\n').at(-1)).toMatch(/^PASS: all 5 chunks uploaded/);
  });

  it('refuses a second DID that would land on the same local file, naming both, and overwrites nothing', async () => {
    const dataset = 'two-scopes';
    await stack.rucio.addDataset('wavefier', dataset);
    const into = { scope: 'wavefier', name: dataset };
    await uploadFile(stack.rucio, { scope: 'wavefier', name: 'legit.hdf5', bytes: Buffer.from('the first file\n'), dataset: into, rse: 'LAKE_S3', mode: 'rucio-compatible' });
    await uploadFile(stack.rucio, { scope: 'user.root', name: 'legit.hdf5', bytes: Buffer.from('another file, same name\n'), dataset: into, rse: 'LAKE_S3', mode: 'rucio-compatible' });
    await stack.rucio.closeDataset('wavefier', dataset);
    const dest = join(stack.dir, 'dest');
    const down = await download(dataset, ['--dest', dest]);
    expect(down.code).toBe(3);
    expect(JSON.parse(down.stdout.trim().split('\n')[0] ?? '')).toMatchObject({ verified: 1, failed: 1, foreign: 1 });
    const failed = (await readEvents(join(logs(), dataset), 'download')).filter((line) => line.event === 'failed');
    expect(failed).toHaveLength(1);
    expect(String(failed[0]?.error)).toMatch(/^(user\.root|wavefier):legit\.hdf5 has the same name as (wavefier|user\.root):legit\.hdf5, already taken by this download/);
    expect(down.stderr).toContain('failed: ');
    // One file on disk, the one verified, whole.
    const kept = await readFile(join(dest, dataset, 'legit.hdf5'), 'utf8');
    expect(['the first file\n', 'another file, same name\n']).toContain(kept);
  });

  it('logs every corrupted read the lake serves, and the report counts exactly what the lake injected', async () => {
    const dataset = 'corrupt-reads';
    const up = await upload(dataset, 'reads', 30);
    expect(up.code, up.stderr).toBe(0);
    stack.lake.faults.resetCounters();
    // The first reads are corrupted for sure (the burst), the rest at random: never too few to count.
    stack.lake.faults.set({ storage: [{ method: 'GET', corruptReadBurst: 4, corruptReadRate: 0.3 }] });
    const down = await download(dataset, ['--keep', 'none', '--corruption-retries', '8']);
    const injected = stack.lake.faults.counters().storage.corruptedReads;
    stack.lake.faults.clear();
    expect(down.code, down.stderr).toBe(0);
    expect(injected).toBeGreaterThan(3);

    const lines = (await readEvents(join(logs(), dataset), 'download')).filter((line) => line.event === 'corrupted');
    expect(lines).toHaveLength(injected);
    for (const line of lines) {
      expect(line).toMatchObject({ did: `wavefier:${String(line.name)}`, expected_bytes: line.bytes });
      expect(line.adler32).toMatch(/^[0-9a-f]{8}$/);
      expect(line.md5).toMatch(/^[0-9a-f]{32}$/);
      expect(line.expected_adler32).toMatch(/^[0-9a-f]{8}$/);
      expect(line.expected_md5).toMatch(/^[0-9a-f]{32}$/);
      expect(line.adler32).not.toBe(line.expected_adler32);
      expect(typeof line.attempt).toBe('number');
    }
    const chunksHit = new Set(lines.map((line) => line.name)).size;
    const summary = JSON.parse(down.stdout) as Record<string, number>;
    expect(summary).toMatchObject({ verified: 30, corrupted: 0, corruptedReads: injected, chunksWithCorruptedRead: chunksHit });

    const { code, text, json } = await report('reads');
    expect(code).toBe(0);
    expect(json.integrity).toMatchObject({ verified: 30, corrupted: 0, corrupted_reads: injected, chunks_with_corrupted_read: chunksHit, recovered: chunksHit });
    expect(text).toContain(`corrupted reads  ${String(injected).padStart(2)}  reads that did not match the catalog, of ${chunksHit} chunk`);
  });
});
