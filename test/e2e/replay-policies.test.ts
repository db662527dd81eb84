import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeGwoscFile } from '../../src/strain/index.js';
import { h1_16k } from '../fixtures/strain/files.js';
import { runCli } from '../helpers/cli.js';
import { readEvents } from '../helpers/stack.js';

/** What a replay does, said before it starts: rate, chunk size, wrap-around, gap and DQ policies; --resample, --on-dq, rehearse --on-gap. */
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wavefier-replay-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runDirOf(stdout: string): string {
  const match = /run directory\s+(\S+)/.exec(stdout);
  if (!match?.[1]) throw new Error(`no run directory in:\n${stdout}`);
  return match[1];
}

describe('a replay says what it does', () => {
  it('rehearse --resample 4096 sends the real 16 kHz file at 4 kHz and its header says so', async () => {
    const result = await runCli(['rehearse', '--source', h1_16k, '--resample', '4096', '--count', '4', '--rate-factor', '20', '--log-dir', dir, '--no-plots'], {
      timeoutMs: 120_000,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      '  replay: H-H1_LOSC_16_V2-1126259446-32.hdf5, 16384 Hz resampled to 4096 Hz, chunks of 1 s (4096 samples, 47.8 kB); ' +
        '32 chunks in the file, from 0 s: chunk 32 starts it over; chunks with NaN gaps: skip; chunks failing DQ: send',
    );
    const runDir = runDirOf(result.stdout);
    const started = (await readEvents(runDir, 'upload')).find((event) => event.event === 'run_started');
    expect(started?.settings).toMatchObject({ source_rate_hz: 16384, sample_rate_hz: 4096, chunk_samples: 4096, distinct_chunks: 32, wraps_at: 32, gap_policy: 'skip', dq_policy: 'send' });
    const verified = (await readEvents(runDir, 'download')).filter((event) => event.event === 'verified');
    expect(verified).toHaveLength(4);
    // A decimated 1 s chunk of float64 samples at 4096 Hz: 4096 × 8 bytes of strain in the file.
    for (const event of verified) expect(event.bytes).toBe(47_784);
  });

  it('skips chunks failing DQ with --on-dq skip and sends gaps with rehearse --on-gap send, counting both', async () => {
    const file = join(dir, 'H-H1_GAPDQ-1000000000-6.hdf5');
    writeGwoscFile(file, {
      detector: 'H1',
      gpsStart: 1_000_000_000,
      duration: 6,
      sampleRate: 4096,
      sample: (index) => (index >= 2 * 4096 + 100 && index < 2 * 4096 + 200 ? Number.NaN : Math.sin(index / 50) * 1e-21),
      dq: (second) => (second === 4 ? 126 : 127),
    });
    const result = await runCli(['rehearse', '--source', file, '--count', '6', '--rate-factor', '20', '--on-gap', 'send', '--on-dq', 'skip', '--log-dir', dir, '--no-plots'], {
      timeoutMs: 120_000,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('6 chunks in the file, from 0 s: chunk 6 starts it over; chunks with NaN gaps: send; chunks failing DQ: skip');
    const uploads = await readEvents(runDirOf(result.stdout), 'upload');
    expect(uploads.filter((event) => event.event === 'uploaded').map((event) => event.seq).sort()).toEqual([0, 1, 2, 3, 5]);
    expect(uploads.find((event) => event.event === 'skipped')).toMatchObject({ seq: 4, reason: 'dq' });
    expect(uploads.find((event) => event.event === 'run_started')?.settings).toMatchObject({ gap_policy: 'send', dq_policy: 'skip' });
    expect(uploads.find((event) => event.event === 'run_finished')?.counts).toMatchObject({ dq_flagged: 1, skipped: 1, uploaded: 5 });
  });

  it('by default skips the gap and sends the DQ-failing chunk, still counting it', async () => {
    const file = join(dir, 'H-H1_GAPDQ-1000000000-6.hdf5');
    writeGwoscFile(file, {
      detector: 'H1',
      gpsStart: 1_000_000_000,
      duration: 6,
      sampleRate: 4096,
      sample: (index) => (index >= 2 * 4096 + 100 && index < 2 * 4096 + 200 ? Number.NaN : Math.sin(index / 50) * 1e-21),
      dq: (second) => (second === 4 ? 126 : 127),
    });
    const result = await runCli(['rehearse', '--source', file, '--count', '6', '--rate-factor', '20', '--log-dir', dir, '--no-plots'], { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    const uploads = await readEvents(runDirOf(result.stdout), 'upload');
    expect(uploads.find((event) => event.event === 'skipped')).toMatchObject({ seq: 2, reason: 'gap' });
    expect(uploads.find((event) => event.event === 'run_finished')?.counts).toMatchObject({ dq_flagged: 1, skipped: 1, uploaded: 5 });
  });
});
