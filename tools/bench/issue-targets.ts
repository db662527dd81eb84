import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatValue } from './report.js';
import { meetsTarget } from './targets.js';
import type { BenchmarkResult, Metric } from './types.js';

/**
 * Issue 16's Targets table ("the consumer at the physical limit"), filled from the latest result of
 * each benchmark it draws on: this run's where it ran them, else the newest file in bench-results/.
 * `npm run bench -- latency replay-14400 memory-paced rucio-real-live` measures all of it in one go.
 */
export const issueTargetBenchmarks = ['latency-1hz', 'latency-rate-10', 'latency-chunk0', 'replay-14400', 'memory-paced', 'rucio-real-live'] as const;
type Source = (typeof issueTargetBenchmarks)[number];

interface Row {
  what: string;
  source: Source;
  /** Metric keys; several make one cell ("a / b"). */
  keys: readonly string[];
  target: string;
}

const rows: readonly Row[] = [
  { what: 'total latency at 1 Hz, default settings: median', source: 'latency-1hz', keys: ['total.p50'], target: '<= 40' },
  { what: 'total latency at 1 Hz, default settings: p99', source: 'latency-1hz', keys: ['total.p99'], target: '<= 120' },
  { what: 'total latency at 1 Hz: chunk 0 / median', source: 'latency-1hz', keys: ['chunk0.ratio'], target: '<= 2' },
  { what: 'total latency at rate factor 10 (rehearse defaults): median', source: 'latency-rate-10', keys: ['total.p50'], target: '<= 60' },
  { what: 'total latency at rate factor 10: p99', source: 'latency-rate-10', keys: ['total.p99'], target: '<= 200' },
  { what: 'total latency at rate factor 10: chunk 0 / median', source: 'latency-rate-10', keys: ['chunk0.ratio'], target: '<= 2' },
  { what: 'rate factor 10, 8 separate 60-chunk rehearsals: chunk 0 / median in the worst one', source: 'latency-chunk0', keys: ['chunk0.worst'], target: '<= 2' },
  { what: 'rate factor 10, 8 separate 60-chunk rehearsals: how many had chunk 0 within 2x', source: 'latency-chunk0', keys: ['chunk0.within'], target: '== 8' },
  { what: 'catalog requests per chunk at 1 Hz (steady state)', source: 'latency-1hz', keys: ['requests'], target: '<= 1.5' },
  { what: 'catalog requests per chunk at rate factor 10 (steady state)', source: 'latency-rate-10', keys: ['requests'], target: '' },
  // "The same design must hold against a real Rucio server (one poll request per chunk period, no extra load)."
  { what: 'catalog requests per chunk at 1 Hz against a real Rucio 1.31.7 (steady state, counted on the wire)', source: 'rucio-real-live', keys: ['requests.wire'], target: '<= 1.5' },
  { what: '14,400-chunk replay, upload + download, 2 cores: wall time (s)', source: 'replay-14400', keys: ['wall'], target: '<= 30' },
  { what: '14,400-chunk replay: CPU per chunk, all processes (ms)', source: 'replay-14400', keys: ['cpu'], target: '<= 4' },
  { what: '14,400-chunk replay: chunks lost / corrupted', source: 'replay-14400', keys: ['lost', 'corrupted'], target: '== 0' },
  { what: "14,400-chunk replay: replicas the download's polls listed per chunk (1: no file listed twice)", source: 'replay-14400', keys: ['listed'], target: '' },
];

interface Found {
  result: BenchmarkResult;
  loadAverage?: number;
}

/** The newest result of each benchmark: this run's, else the newest results file that has it. */
function latestResults(root: string, current: readonly BenchmarkResult[], currentLoad: number): Map<Source, Found> {
  const found = new Map<Source, Found>();
  for (const result of current) {
    if ((issueTargetBenchmarks as readonly string[]).includes(result.name)) found.set(result.name as Source, { result, loadAverage: currentLoad });
  }
  const directory = join(root, 'bench-results');
  if (!existsSync(directory)) return found;
  const files = readdirSync(directory)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .reverse();
  for (const file of files) {
    if (found.size === issueTargetBenchmarks.length) break;
    let parsed: { results?: BenchmarkResult[]; machine?: { loadAverage?: number } };
    try {
      parsed = JSON.parse(readFileSync(join(directory, file), 'utf8')) as typeof parsed;
    } catch {
      continue; // a damaged or foreign file is not a result
    }
    for (const result of parsed.results ?? []) {
      const name = result.name as Source;
      if (!(issueTargetBenchmarks as readonly string[]).includes(name) || found.has(name)) continue;
      found.set(name, { result, ...(parsed.machine?.loadAverage === undefined ? {} : { loadAverage: parsed.machine.loadAverage }) });
    }
  }
  return found;
}

function metric(result: BenchmarkResult, key: string): Metric | undefined {
  return result.metrics.find((candidate) => candidate.key === key);
}

function loadOf(found: Found): string {
  const before = metric(found.result, 'load.before')?.value;
  const after = metric(found.result, 'load.after')?.value;
  if (before !== undefined && after !== undefined) return `${formatValue(before)} → ${formatValue(after)}`;
  return found.loadAverage === undefined ? '' : `${formatValue(found.loadAverage)} at the start`;
}

/** The table as Markdown, with per-process CPU and memory of the replay below it. */
export function renderIssueTargets(root: string, current: readonly BenchmarkResult[], currentLoad: number): string {
  const found = latestResults(root, current, currentLoad);
  const lines = [
    '## Issue 16 targets: the consumer at the physical limit',
    '',
    'Filled by `npm run bench -- latency replay-14400 memory-paced rucio-real-live` (`latency-1hz`, `latency-rate-10`, `replay-14400`, ' +
      '`memory-paced`, `rucio-real-live`); a row whose ' +
      'benchmark did not run in the latest invocation shows its newest result from bench-results/. Load: the 1-minute load ' +
      "average before → after the benchmark (2 cores: above 2, other work shared the machine and the timings with it).",
    '',
    '| what | target | measured | met | run | load |',
    '|---|---|---:|---|---|---|',
  ];
  for (const row of rows) {
    const source = found.get(row.source);
    if (source === undefined) {
      lines.push(`| ${row.what} | ${row.target} | not measured | | | |`);
      continue;
    }
    const values = row.keys.map((key) => metric(source.result, key)?.value);
    const measured = values.map((value) => (value === undefined ? '?' : formatValue(value))).join(' / ');
    const verdicts = values.map((value) => (value === undefined || row.target === '' ? undefined : meetsTarget(value, row.target)));
    const met = verdicts.some((verdict) => verdict === undefined) ? '' : verdicts.every(Boolean) ? 'yes' : '**no**';
    lines.push(`| ${row.what} | ${row.target} | ${measured} | ${met} | ${row.source} ${source.result.startedAt.slice(0, 16)}Z | ${loadOf(source)} |`);
  }
  const replay = found.get('replay-14400');
  const paced = found.get('memory-paced');
  if (replay !== undefined || paced !== undefined) {
    const labels = [
      ...new Set(
        [replay, paced]
          .flatMap((source) => source?.result.metrics ?? [])
          .filter((m) => m.key?.startsWith('rss.') === true)
          .map((m) => m.key?.slice(4) ?? ''),
      ),
    ].sort();
    const stamp = (source: Found | undefined): string => (source === undefined ? 'not measured' : `${source.result.name} ${source.result.startedAt.slice(0, 16)}Z, load ${loadOf(source)}`);
    lines.push(
      '',
      'Per process (memory target: <= 200 MB and flat). CPU and the replay\'s max RSS from the unpaced replay (' +
        `${stamp(replay)}); "flat" from memory-paced, the same 14,400 chunks paced over 4 minutes (${stamp(paced)}): ` +
        'the RSS floor of the last third of the transfer at most 5 MB/min above that of its middle third (thirds of ~80 s; ' +
        "the replay's ~10 s thirds cannot tell a heap sizing itself from a leak). Growth per chunk: that floor growth " +
        'over the chunks paced through meanwhile.',
      '',
      '| process | CPU per chunk, replay (ms) | max RSS, replay (MB) | max RSS, paced (MB) | RSS floor growth, paced (MB/min) | growth per chunk, paced (bytes) | met |',
      '|---|---:|---:|---:|---:|---:|---|',
    );
    const value = (source: Found | undefined, key: string): number | undefined => (source === undefined ? undefined : metric(source.result, key)?.value);
    for (const label of labels) {
      const cpu = value(replay, `cpu.${label}`);
      const replayRss = value(replay, `rss.${label}`);
      const pacedRss = value(paced, `rss.${label}`);
      const trend = value(paced, `trend.${label}`);
      const perChunk = value(paced, `per-chunk.${label}`);
      const rssOk = [replayRss, pacedRss].every((rss) => rss === undefined || rss <= 200);
      const ok = trend === undefined || pacedRss === undefined ? undefined : rssOk && trend <= 5;
      const cell = (v: number | undefined): string => (v === undefined ? '' : formatValue(v));
      lines.push(
        `| ${label} | ${cell(cpu)} | ${cell(replayRss)} | ${cell(pacedRss)} | ${cell(trend)} | ${cell(perChunk)} | ${ok === undefined ? '' : ok ? 'yes' : '**no**'} |`,
      );
    }
  }
  return lines.join('\n');
}

/** Writes the table next to the run's JSON results (`<stamp>-issue-16.md`) and returns its path. */
export function writeIssueTargets(jsonPath: string, markdown: string): string {
  const path = jsonPath.replace(/\.json$/, '-issue-16.md');
  writeFileSync(path, `${markdown}\n`);
  return path;
}
