import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportJsonSchema } from '../../src/report/index.js';
import { writeSyntheticRun } from '../../tools/fixtures/synthetic-logs.js';
import { checkPage, decodePng, inkedFraction } from '../helpers/browser.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { scratchDirPerTest } from '../helpers/scratch.js';
import { readEvents } from '../helpers/stack.js';

const scratch = scratchDirPerTest('wavefier-report-meeting-');

/** Two runs as two sites log them: `slow` has a tenth of its uploads at 5 s. */
async function twoRuns(root: string): Promise<{ fast: string; slow: string }> {
  const fast = join(root, 'fast');
  const slow = join(root, 'slow');
  await writeSyntheticRun({ logDir: fast, run: 'run-fast', chunks: 600, uploadLatencyMs: (seq) => 800 + (seq % 40) * 5 });
  await writeSyntheticRun({ logDir: slow, run: 'run-slow', chunks: 600, uploadLatencyMs: (seq) => (seq % 10 === 0 ? 5000 : 900 + (seq % 40) * 5) });
  return { fast: join(fast, 'run-fast'), slow: join(slow, 'run-slow') };
}

describe('wavefier report for the meeting (built bin)', () => {
  it('judges --slo objectives: all met is exit 0; a missed one is FAIL, its own line and exit 6; a typo is exit 2', async () => {
    const { fast, slow } = await twoRuns(scratch.path);
    const met = await runCli(['report', '--no-plots', '--slo', 'upload.p99<=2s', '--slo', 'total.p50<=30s,detection.max<=1s', fast]);
    expect(met.code, met.stderr).toBe(0);
    expect(met.stdout).toMatch(/\nlatency objectives \(all met\)\n {2}objective +actual\n {2}upload\.p99 <= 2 s +[\d.]+ m?s +met\n {2}total\.p50 <= 30 s +[\d.]+ m?s +met\n {2}detection\.max <= 1 s +[\d.]+ m?s +met\n/);
    expect(met.stdout).toMatch(/\nPASS: all 600 chunks/);

    const file = join(scratch.path, 'objectives.slo');
    await writeFile(file, '# the meeting objectives\nupload.p50<=1.5s\nupload.p99<=2s\n');
    const missed = await runCli(['report', '--no-plots', '--slo', `@${file}`, slow]);
    expect(missed.code).toBe(6);
    expect(missed.stdout).toMatch(/\n {2}upload\.p50 <= 1.5 s +[\d.]+ s +met\n {2}upload\.p99 <= 2 s +5\.00 s +MISSED\n/);
    expect(missed.stdout.trimEnd().split('\n').at(-1)).toMatch(/^FAIL: latency objective missed: upload\.p99 5\.00 s > 2 s; all 600 chunks uploaded/);
    expect(missed.stderr.trimEnd().split('\n').at(-1)).toBe(
      'wavefier: error: rehearsal run run-slow missed a latency objective (exit 6; every chunk intact): upload.p99 5.00 s > 2 s',
    );

    const typo = await runCli(['report', '--no-plots', '--slo', 'totl.p99<=2s', fast]);
    expect(typo.code).toBe(2);
    expect(typo.stderr.trim()).toBe("wavefier: error: invalid --slo 'totl.p99<=2s': unknown metric 'totl': use upload, detection, total or pacing");
  });

  it('labels every window at the precision of its width (--window 30s)', async () => {
    const { fast } = await twoRuns(scratch.path);
    const result = await runCli(['report', '--no-plots', '--window', '30s', fast]);
    expect(result.code).toBe(0);
    const labels = [...result.stdout.matchAll(/^ {2}(\+\d+:\d\d) +\d+ /gm)].map((match) => match[1]);
    expect(labels.slice(0, 4)).toEqual(['+0:00', '+0:30', '+1:00', '+1:30']);
    expect(new Set(labels).size).toBe(labels.length);
    expect(result.stdout).toContain('  window (m:ss)  chunks');
  });

  it('prints one object of the documented schema with --json, and writes plots only when asked (--plots DIR)', async () => {
    const { fast } = await twoRuns(scratch.path);
    const result = await runCli(['--json', 'report', '--slo', 'total.p99<=1ms', fast]);
    expect(result.code).toBe(6);
    const json = reportJsonSchema.parse(JSON.parse(result.stdout));
    expect(json).toMatchObject({ schema_version: 1, command: 'report', ok: false, verdict: { state: 'fail', exit_code: 6 }, plots: null });
    expect(json.objectives[0]).toMatchObject({ objective: 'total.p99<=1ms', met: false });
    expect(existsSync(join(fast, 'report'))).toBe(false);

    const out = join(scratch.path, 'plots');
    const withPlots = await runCli(['--json', 'report', '--plots', out, fast]);
    expect(withPlots.code).toBe(0);
    const plots = reportJsonSchema.parse(JSON.parse(withPlots.stdout)).plots ?? [];
    expect(plots).toContain(join(out, 'report.html'));
    expect(plots).toContain(join(out, 'latency-cdf.png'));
  });

  it('compares two runs: a side-by-side table and their CDFs overlaid (--compare)', async () => {
    const { fast, slow } = await twoRuns(scratch.path);
    const out = join(scratch.path, 'plots');
    const result = await runCli(['report', '--plots', out, '--compare', fast, '--slo', 'upload.p99<=2s', slow]);
    expect(result.code).toBe(6);
    expect(result.stdout).toMatch(/\ncompared with run run-fast\n +this run +other run +change\n {2}run +run-slow +run-fast\n {2}verdict +FAIL +PASS\n/);
    expect(result.stdout).toMatch(/\n {2}upload latency p99 +5\.00 s +[\d.]+ s +\+[\d.]+ s \(\+\d+ %\)\n/);
    expect(result.stdout).toMatch(/\n {2}objectives met +0 of 1 +1 of 1\n/);
    expect(await readdir(out)).toEqual(expect.arrayContaining(['compare-cdf.png', 'compare-cdf.svg', 'report.html']));
    const svg = await readFile(join(out, 'compare-cdf.svg'), 'utf8');
    expect(svg).toContain('this run run-slow');
    expect(svg).toContain('other run run-fast');
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<h2>Compared with run run-fast</h2>');
  });

  it('draws report.html that a real browser shows: not blank, no console error, every plot decoded, the run settings on top', async () => {
    const { slow } = await twoRuns(scratch.path);
    const out = join(scratch.path, 'plots');
    const result = await runCli(['report', '--plots', out, '--slo', 'upload.p50<=1s,upload.p99<=2s', slow]);
    expect(result.code).toBe(6);
    const page = await checkPage(join(out, 'report.html'));
    expect(page.problems).toEqual([]);
    expect(page.brokenImages).toEqual([]);
    expect(page.title).toBe('wavefier report: run run-slow');
    const image = decodePng(page.screenshot);
    expect(image.width).toBeGreaterThan(800);
    // Text, tables and five plots: far from blank.
    expect(inkedFraction(image)).toBeGreaterThan(0.03);

    // The check itself: a page with a console error and a broken image is caught.
    const bad = join(scratch.path, 'bad.html');
    await writeFile(bad, '<!doctype html><title>bad</title><p>x</p><img alt="gone" src="missing.png"><script>console.error("boom")</script>');
    const badPage = await checkPage(bad);
    expect(badPage.problems.join('\n')).toMatch(/console\.error: .*boom/);
    expect(badPage.brokenImages).toEqual(['gone']);
  }, 120_000);

  it('rehearse --slo --json: the same schema, FAIL with exit 6 on a missed objective, no plots unless asked, each side\'s start-up', async () => {
    const logDir = join(scratch.path, 'rehearsals');
    const result = await runCli(['--json', 'rehearse', '--count', '20', '--rate-factor', '20', '--slo', 'upload.p99<=1h,total.p50<=1ms', '--log-dir', logDir], { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(6);
    const json = reportJsonSchema.parse(JSON.parse(result.stdout.trim().split('\n').at(-1) ?? ''));
    expect(json).toMatchObject({ command: 'rehearse', ok: false, verdict: { state: 'fail', exit_code: 6 }, plots: null });
    expect(json.integrity).toMatchObject({ scheduled: 20, verified: 20, missing: 0, corrupted: 0 });
    expect(json.objectives.map((objective) => [objective.objective, objective.met])).toEqual([
      ['upload.p99<=1h', true],
      ['total.p50<=1ms', false],
    ]);
    const runDir = json.rehearsal?.run_dir ?? '';
    expect(existsSync(join(runDir, 'upload.jsonl'))).toBe(true);
    expect(json.rehearsal?.html).toBeNull();
    expect(existsSync(join(runDir, 'report'))).toBe(false);
    // The downloader logs `ready` once its first poll is answered and its workers are connected, the
    // uploader once set up and warmed; each with its start-up from the process's start, as the header says.
    for (const side of ['upload', 'download'] as const) {
      const info = json.run.sides[side];
      expect(info.ready_at_ms, side).not.toBeNull();
      const ready = (await readEvents(runDir, side)).find((event) => event.event === 'ready') as { settings?: { startup_ms?: number } } | undefined;
      expect(info.startup_ms, side).toBe(ready?.settings?.startup_ms);
      expect(info.startup_ms, side).toBeGreaterThan(0);
      expect(json.header.find((field) => field.label === side)?.value, side).toMatch(/ready [\d.]+ (ms|s) after start/);
    }
    // The rehearsal tells its upload to start pacing once the download is ready: the header says how long it waited.
    expect(json.header.find((field) => field.label === 'upload')?.value).toMatch(/ready [\d.]+ (ms|s) after start(, then waited [\d.]+ (ms|s) to start pacing)?/);
    // Both sides name the catalog and the wavefier that wrote their logs.
    const version = (JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
    expect(json.header.find((field) => field.label === 'rucio')?.value).toMatch(/^http:\/\/127\.0\.0\.1:\d+, Rucio server 1\.31\.7$/);
    expect(json.header.find((field) => field.label === 'upload')?.value).toContain(`wavefier ${version}`);
    expect(json.header.find((field) => field.label === 'download')?.value).toContain(`wavefier ${version}`);
    expect(json.header.find((field) => field.label === 'source')?.value).toMatch(/^synthetic, 4,096 Hz, 20 chunks of 1\.00 s \([\d.]+ kB\), one chunk every 50\.0 ms \(rate factor 20\)$/);
    expect(result.stderr).toMatch(/\nwavefier: error: rehearsal run \S+ missed a latency objective \(exit 6; every chunk intact\): total\.p50 [\d.]+ m?s > 1 ms\n?$/);
  }, 150_000);
});
