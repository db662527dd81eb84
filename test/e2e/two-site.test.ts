import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeGwoscFile } from '../../src/strain/index.js';
import { runCli } from '../helpers/cli.js';
import { readEvents, startTestStack, tamperObject, type TestStack } from '../helpers/stack.js';

/**
 * The README's two-site rehearsal, literally: a producer at site A and a consumer at site B, two
 * processes in two working directories (each with its own `rehearsals/` log dir), a dataset name and
 * a run id that follow no wavefier pattern; then `report siteA/rehearsals siteB/rehearsals`.
 */

let stack: TestStack;
let siteA: string;
let siteB: string;
beforeEach(async () => {
  stack = await startTestStack();
  siteA = join(stack.dir, 'siteA');
  siteB = join(stack.dir, 'siteB');
  await mkdir(siteA);
  await mkdir(siteB);
});
afterEach(async () => {
  await stack.dispose();
});

const count = 6;

function upload(dataset: string, runId: string): ReturnType<typeof runCli> {
  return runCli(
    [
      'upload', '--source', 'synthetic', '--count', String(count), '--rate-factor', '20', '--rse', 'LAKE_S3', '--scope', 'wavefier',
      '--dataset', dataset, '--run-id', runId, '--redis', stack.redis.url, '--close-dataset',
    ],
    { cwd: siteA, env: stack.env, timeoutMs: 90_000 },
  );
}

function download(dataset: string, extra: string[] = []): ReturnType<typeof runCli> {
  return runCli(['download', '--scope', 'wavefier', '--dataset', dataset, '--keep', 'none', '--until-closed', '--workers', '2', ...extra], {
    cwd: siteB,
    env: stack.env,
    timeoutMs: 90_000,
  });
}

function report(args: string[]): ReturnType<typeof runCli> {
  return runCli(['report', '--no-plots', ...args], { cwd: stack.dir, timeoutMs: 60_000 });
}

describe('a two-site rehearsal as the README shows it (built bin, embedded lake, real Redis)', () => {
  it('joins the two sites\' logs by chunk identity: PASS with every chunk, whatever the run and dataset are called', async () => {
    const dataset = 'ego-to-cnaf-rehearsal';
    const runId = 'kill1';
    const [up, down] = await Promise.all([upload(dataset, runId), download(dataset)]);
    expect(up.code, up.stderr).toBe(0);
    expect(down.code, down.stderr).toBe(0);
    // Each site wrote where its own --log-dir (the default, rehearsals/) says; nothing names the other.
    expect((await readEvents(join(siteA, 'rehearsals', runId), 'upload')).filter((event) => event.event === 'uploaded')).toHaveLength(count);
    const verified = (await readEvents(join(siteB, 'rehearsals', dataset), 'download')).filter((event) => event.event === 'verified');
    expect(verified).toHaveLength(count);
    // Every line carries the chunk's own identity and its DID.
    for (const event of verified) {
      expect(event).toMatchObject({ run: runId, did: `wavefier:${String(event.name)}` });
      expect(typeof event.seq).toBe('number');
    }

    const result = await report(['siteA/rehearsals', 'siteB/rehearsals']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^run ${runId}, dataset wavefier:${dataset}\\n`));
    expect(result.stdout.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^PASS: all ${count} chunks uploaded, all downloaded, none corrupted`));
    const json = JSON.parse((await runCli(['--json', 'report', '--no-plots', '--run', runId, 'siteB/rehearsals', 'siteA/rehearsals'], { cwd: stack.dir })).stdout) as {
      verdict: { state: string };
      integrity: Record<string, number>;
    };
    expect(json.verdict.state).toBe('pass');
    expect(json.integrity).toMatchObject({ scheduled: count, uploaded: count, verified: count, missing: 0, not_in_upload_log: 0 });

    // One side alone is never a verdict: exit 5, saying what is missing.
    const downloadOnly = await report(['siteB/rehearsals']);
    expect(downloadOnly.code).toBe(5);
    expect(downloadOnly.stdout.trimEnd().split('\n').at(-1)).toMatch(/^NO VERDICT: no upload log of run kill1: /);
    expect(downloadOnly.stderr).toMatch(/wavefier: error: rehearsal run kill1 has no verdict \(exit 5\)/);
    const uploadOnly = await report(['siteA/rehearsals']);
    expect(uploadOnly.code).toBe(5);
    expect(uploadOnly.stdout.trimEnd().split('\n').at(-1)).toMatch(/^NO VERDICT: no download log of run kill1's dataset/);
  });

  it('gives no verdict (exit 5), never a PASS, when nothing was uploaded: an all-NaN source', async () => {
    const source = join(stack.dir, 'V-V1_ALLNAN-1000000000-4.hdf5');
    writeGwoscFile(source, { detector: 'V1', gpsStart: 1_000_000_000, duration: 4, sampleRate: 1024, sample: () => Number.NaN });
    const dataset = 'nan-rehearsal';
    await stack.rucio.addDataset('wavefier', dataset);
    const [up, down] = await Promise.all([
      runCli(['upload', '--source', source, '--count', '4', '--rate-factor', '20', '--rse', 'LAKE_S3', '--dataset', dataset, '--run-id', 'nan-1', '--redis', stack.redis.url, '--close-dataset'], {
        cwd: siteA,
        env: stack.env,
        timeoutMs: 90_000,
      }),
      download(dataset),
    ]);
    expect(up.code, up.stderr).toBe(0);
    expect(down.code, down.stderr).toBe(0);
    const result = await report(['siteA/rehearsals', 'siteB/rehearsals']);
    expect(result.code).toBe(5);
    expect(result.stdout).toMatch(/\n {2}skipped +4 {2}by reason: gap 4\n/);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe(
      'NO VERDICT: nothing was uploaded: 4 scheduled chunks, 4 skipped (gap 4); a rehearsal without chunks proves nothing',
    );
  });

  it('fails and names the chunk deleted from storage before the consumer read it', async () => {
    const dataset = 'site-rehearsal-2';
    const runId = 'pd01-custom';
    const up = await upload(dataset, runId);
    expect(up.code, up.stderr).toBe(0);
    const uploaded = (await readEvents(join(siteA, 'rehearsals', runId), 'upload')).filter((event) => event.event === 'uploaded');
    const lost = uploaded.find((event) => event.seq === 3)!.name as string;
    await tamperObject(stack, 'delete', 'wavefier', lost);

    const down = await download(dataset, ['--attempts', '2']);
    expect(down.code).toBe(3);
    const result = await report(['siteA/rehearsals', 'siteB/rehearsals', '--list']);
    expect(result.code).toBe(3);
    expect(result.stdout).toContain(`- ${lost}  (download failed: `);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe(`FAIL: 1 chunk missing (${count - 1} of ${count} scheduled chunks verified)`);
    expect(result.stdout).toMatch(new RegExp(`missing:\\n {2}${lost.replace(/\./g, '\\.')}\\n`));
  });
});
