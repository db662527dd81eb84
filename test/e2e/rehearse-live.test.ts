import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli, wavefierBin } from '../helpers/cli.js';

/*
 * rehearse's live view as a person sees it: the built bin in a real terminal (a tmux pane of its
 * own server, whose screen is read back as it is drawn), and its --json progress events.
 */

const run = promisify(execFile);
let dir: string;
const socket = `wavefier-live-${process.pid}`;
const tmux = (...args: string[]): Promise<{ stdout: string }> => run('tmux', ['-L', socket, ...args]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wavefier-live-'));
});
afterAll(async () => {
  await tmux('kill-server').catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

interface Progress {
  event: string;
  produced: number;
  scheduled: number;
  uploaded: number;
  verified: number;
  corrupted: number;
  missing: number;
  upload_queue: number;
  download_queue: number;
  total_latency_p50_ms: number | null;
}

describe('rehearse shows its progress while it runs', () => {
  it('on a terminal: one block, redrawn in place, upload and download side by side; gone when the report comes', async () => {
    // The tmux server, started here, gives its panes this environment: a terminal, not CI.
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.CI;
    const command = `${process.execPath} ${wavefierBin} rehearse --count 150 --rate-factor 10 --no-plots --log-dir ${join(dir, 'tty')}; echo "exit=$?"; sleep 600`;
    await run('tmux', ['-L', socket, '-f', '/dev/null', 'new-session', '-d', '-x', '200', '-y', '60', '-c', repoRoot, command], { env });
    const screen = async (): Promise<string> => (await tmux('capture-pane', '-p')).stdout;
    const midRun: string[] = [];
    const deadline = Date.now() + 150_000;
    let final = '';
    while (Date.now() < deadline) {
      const text = await screen();
      if (/exit=\d+/.test(text)) {
        final = text;
        break;
      }
      if (/produced +\d+ of 150/.test(text)) midRun.push(text);
      await sleep(400);
    }
    expect(final, 'the rehearsal ended').toMatch(/exit=0/);
    expect(midRun.length, 'screens with the live block').toBeGreaterThan(3);
    for (const text of midRun) {
      // Redrawn in place: whatever the moment, the screen holds one block, never a scroll of them.
      expect(text.match(/^rehearsal \S+ .*(ETA|done)/gm)).toHaveLength(1);
      expect(text.match(/^ {2}upload +download$/gm)).toHaveLength(1);
      expect(text).toMatch(/^ {2}produced +\d+ of 150 +verified +\d+$/m);
      expect(text).toMatch(/^ {2}uploaded +\d+ +corrupted +\d+$/m);
      expect(text).toMatch(/^ {2}failed +\d+ +skipped \d+ +missing +\d+$/m);
      expect(text).toMatch(/^ {2}queue +\d+ +queue +\d+$/m);
      expect(text).toMatch(/^ {2}rate +[\d.]+ chunks\/s +rate +[\d.]+ chunks\/s$/m);
      expect(text).toMatch(/^ {2}latency +(-|p50 .+ p99 .+?) +total +(-|p50 .+ p99 .+)$/m);
    }
    const produced = midRun.map((text) => Number(/produced +(\d+) of/.exec(text)?.[1]));
    expect(produced.at(-1)).toBeGreaterThan(produced[0] ?? 0);
    expect(midRun.some((text) => /latency +p50 \S+ (ms|s) +p99/.test(text))).toBe(true);
    // The block is taken off before the report is printed.
    expect(final).not.toMatch(/^ {2}produced /m);
    expect(final).toMatch(/^PASS: all 150 chunks uploaded/m);
  }, 200_000);

  it('--json: progress events every 10 s on stdout, counted as the report counts; -q: none', async () => {
    const result = await runCli(['--json', 'rehearse', '--count', '250', '--rate-factor', '10', '--no-plots', '--log-dir', join(dir, 'json')], { timeoutMs: 150_000 });
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Progress & { integrity?: Record<string, number> });
    const events = lines.filter((line) => line.event === 'progress');
    expect(events.length).toBeGreaterThanOrEqual(1);
    const summary = lines.at(-1);
    expect(summary?.integrity).toMatchObject({ scheduled: 250, uploaded: 250, verified: 250 });
    for (const event of events) {
      expect(event.scheduled).toBe(250);
      expect(event.produced).toBeGreaterThanOrEqual(event.uploaded);
      expect(event.uploaded).toBeGreaterThanOrEqual(event.verified);
      expect(event.corrupted + event.missing).toBe(0);
      expect(event.produced).toBe(event.uploaded + event.upload_queue);
      expect(event.uploaded).toBe(event.verified + event.download_queue);
    }

    const quiet = await runCli(['--json', '-q', 'rehearse', '--count', '120', '--rate-factor', '10', '--no-plots', '--log-dir', join(dir, 'quiet')], { timeoutMs: 150_000 });
    expect(quiet.code).toBe(0);
    expect(quiet.stdout.trim().split('\n')).toHaveLength(1);
    expect(quiet.stderr).toBe('');
  }, 320_000);
});
