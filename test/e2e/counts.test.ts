import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unixMsToGps } from '../../src/common/gps.js';
import { writeGwoscFile } from '../../src/strain/index.js';
import { runCli } from '../helpers/cli.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

/**
 * One definition of each count: the upload's summary, its live progress counters and the report
 * count late, skipped and failed chunks the same way, checked here against one log (built bin,
 * embedded lake, real Redis) of a run that has all three.
 */

let stack: TestStack;
beforeEach(async () => {
  stack = await startTestStack();
});
afterEach(async () => {
  await stack.dispose();
});

describe('late, skipped and failed: one definition (built bin, embedded lake, real Redis)', () => {
  it('gives the same counts in the upload summary, the report and the log', async () => {
    const count = 20;
    // A source with a NaN gap in seconds 10 and 11: those chunks are skipped (--on-gap skip).
    const source = join(stack.dir, 'V-V1_GAPPY-1000000000-20.hdf5');
    writeGwoscFile(source, {
      detector: 'V1',
      gpsStart: 1_000_000_000,
      duration: count,
      sampleRate: 1024,
      sample: (index) => (index >= 10 * 1024 && index < 12 * 1024 ? Number.NaN : 1e-21 * Math.sin(index)),
    });
    // Chunks 0 and 1 are due before the command is even launched, so they go out late (--late catch-up)
    // however fast the process starts; at half a second per chunk the last ones are due seconds after
    // any start-up, even on a loaded host.
    const startAt = Date.now() - 1000;
    // Chunk 15 cannot be stored: every PUT of it fails, so it fails after its attempts.
    const gps15 = Math.floor(unixMsToGps(startAt)) + 15;
    stack.lake.faults.set({ storage: [{ key: `-${gps15}-1\\.hdf5$`, method: 'PUT', errorRate: 1, status: 500 }] });
    const logs = join(stack.dir, 'logs');
    const run = 'counts-1';
    const up = await runCli(
      [
        '--json', 'upload', '--source', source, '--count', String(count), '--rate-factor', '2', '--start-at', String(startAt), '--attempts', '2',
        '--rse', 'LAKE_S3', '--run-id', run, '--redis', stack.redis.url, '--log-dir', logs,
      ],
      { env: stack.env, timeoutMs: 120_000 },
    );
    // README "Exit status": an upload with a chunk that failed for good is a runtime failure.
    expect(up.code, up.stderr).toBe(1);
    const summary = JSON.parse(up.stdout.trim().split('\n').at(-1)!) as Record<string, number>;

    // The log: one outcome line per chunk; a chunk is late when its outcome line says so.
    const lines = (await readFile(join(logs, run, 'upload.jsonl'), 'utf8'))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { event?: string; seq?: number; late?: boolean });
    const outcomes = lines.filter((line) => line.event === 'uploaded' || line.event === 'failed' || line.event === 'skipped');
    const tally = {
      uploaded: outcomes.filter((line) => line.event === 'uploaded').length,
      failed: outcomes.filter((line) => line.event === 'failed').length,
      skipped: outcomes.filter((line) => line.event === 'skipped').length,
      late: new Set(outcomes.filter((line) => line.late === true).map((line) => line.seq)).size,
    };
    expect(tally).toMatchObject({ uploaded: count - 3, failed: 1, skipped: 2 });
    expect(tally.late).toBeGreaterThan(0);
    expect(tally.late).toBeLessThan(count);

    expect(summary).toMatchObject({ scheduled: count, ...tally });

    const report = await runCli(['--json', 'report', '--no-plots', '--run', run, logs]);
    const integrity = (JSON.parse(report.stdout) as { integrity: Record<string, number> }).integrity;
    expect(integrity).toMatchObject({ scheduled: count, uploaded: tally.uploaded, failed_uploads: tally.failed, skipped: tally.skipped, late: tally.late });
    // What the run's counters said at the end (the live progress line reads the same counters).
    const finished = lines.find((line) => line.event === 'run_finished') as { counts?: Record<string, number> } | undefined;
    expect(finished?.counts).toMatchObject({ uploaded: tally.uploaded, failed: tally.failed, skipped: tally.skipped, late: tally.late });
  });
});
