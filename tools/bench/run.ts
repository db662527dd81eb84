import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { definedProps } from '../../src/common/defined.js';
import { table } from '../../src/common/output.js';
import { packageRoot } from '../../src/rehearse/index.js';
import { benchmarkNames, loadBenchmarks } from './benchmarks/index.js';
import { machineInfo } from './machine.js';
import { issueTargetBenchmarks, renderIssueTargets, writeIssueTargets } from './issue-targets.js';
import { formatValue, updateMarkdown, updateMarkdownSection, writeJsonResults } from './report.js';
import { meetsTarget } from './targets.js';
import type { Benchmark, BenchmarkResult, Metric } from './types.js';

/**
 * `node build/tools/bench/run.js [--check] [NAME|PREFIX...]` (`npm run bench -- ...`): runs the selected benchmarks, each in a child
 * process of its own, prints a summary, writes bench-results/<time>.json and updates BENCHMARKS.md.
 * Exit 0; 1 if a benchmark failed; 2 for an unknown name; 3 with --check when a target was missed.
 */
const root = packageRoot();
const self = fileURLToPath(import.meta.url);

interface ChildMessage {
  metrics?: Metric[];
  durationMs?: number;
  peakRssMb?: number;
  error?: string;
}

async function runChild(name: string): Promise<void> {
  const [benchmark] = await loadBenchmarks([name]);
  if (!benchmark) throw new Error(`no benchmark named ${name}`);
  const workDir = mkdtempSync(join(tmpdir(), `wavefier-bench-${name}-`));
  const started = performance.now();
  try {
    const metrics = await benchmark.run({ workDir, log: (line) => process.stderr.write(`  ${line}\n`) });
    const message: ChildMessage = {
      metrics,
      durationMs: performance.now() - started,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    };
    await new Promise<void>((resolve) => process.send?.(message, () => resolve()) ?? resolve());
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

function runInChild(benchmark: Benchmark): Promise<BenchmarkResult> {
  const startedAt = new Date().toISOString();
  return new Promise((resolve, reject) => {
    const child = fork(self, ['--child', benchmark.name], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let message: ChildMessage | undefined;
    child.on('message', (received) => (message = received as ChildMessage));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (message?.metrics === undefined || code !== 0) {
        reject(new Error(`benchmark ${benchmark.name} failed (exit ${code ?? signal ?? '?'})${message?.error ? `: ${message.error}` : ''}`));
        return;
      }
      const peakRssMb = message.peakRssMb ?? Number.NaN;
      const metrics: Metric[] = [
        ...message.metrics,
        {
          name: 'peak RSS of the benchmark process',
          value: peakRssMb,
          unit: 'MB',
          ...definedProps({ target: benchmark.peakRssTarget }),
        },
      ];
      resolve({
        name: benchmark.name,
        title: benchmark.title,
        description: benchmark.description,
        startedAt,
        durationMs: message.durationMs ?? 0,
        peakRssMb,
        metrics: metrics.map((metric) => {
          const met = metric.target === undefined ? undefined : meetsTarget(metric.value, metric.target);
          return met === undefined ? metric : { ...metric, met };
        }),
      });
    });
  });
}

function select(names: readonly string[]): string[] {
  if (names.length === 0) return [...benchmarkNames];
  const chosen = new Set<string>();
  for (const name of names) {
    // A whole name is that benchmark alone (`rucio-real` is not also `rucio-real-live`); anything else is a prefix.
    const matches = benchmarkNames.includes(name) ? [name] : benchmarkNames.filter((known) => known.startsWith(name));
    if (matches.length === 0) {
      throw new SelectionError(`unknown benchmark ${JSON.stringify(name)}; known: ${benchmarkNames.join(', ')}`);
    }
    for (const match of matches) chosen.add(match);
  }
  return benchmarkNames.filter((known) => chosen.has(known));
}

class SelectionError extends Error {}

async function main(argv: readonly string[]): Promise<number> {
  const check = argv.includes('--check');
  const names = argv.filter((arg) => arg !== '--check');
  let selected: Benchmark[];
  try {
    selected = await loadBenchmarks(select(names));
  } catch (error) {
    if (!(error instanceof SelectionError)) throw error;
    process.stderr.write(`bench: ${error.message}\n`);
    return 2;
  }
  const machine = machineInfo();
  const startedAt = new Date();
  const results: BenchmarkResult[] = [];
  let failed = false;
  for (const benchmark of selected) {
    process.stderr.write(`bench: ${benchmark.name}: ${benchmark.title}\n`);
    try {
      results.push(await runInChild(benchmark));
    } catch (error) {
      failed = true;
      process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
  if (results.length > 0) {
    const json = writeJsonResults(root, machine, results, startedAt);
    const markdown = updateMarkdown(root, machine, results);
    const rows = [['BENCHMARK', 'METRIC', 'MEASURED', 'UNIT', 'TARGET', 'MET']];
    for (const result of results) {
      for (const metric of result.metrics) {
        rows.push([result.name, metric.name, formatValue(metric.value), metric.unit, metric.target ?? '', metric.met === undefined ? '' : metric.met ? 'yes' : 'NO']);
      }
    }
    process.stdout.write(`${table(rows)}\n`);
    process.stderr.write(`bench: wrote ${json} and ${markdown}\n`);
    if (results.some((result) => (issueTargetBenchmarks as readonly string[]).includes(result.name))) {
      const targets = renderIssueTargets(root, results, machine.loadAverage);
      updateMarkdownSection(root, 'issue-16-targets', targets);
      process.stdout.write(`\n${targets}\n`);
      process.stderr.write(`bench: wrote ${writeIssueTargets(json, targets)} and its section of ${markdown}\n`);
    }
  }
  if (failed) return 1;
  const missed = results.some((result) => result.metrics.some((metric) => metric.met === false));
  return check && missed ? 3 : 0;
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  const name = args[1] ?? '';
  runChild(name).catch((error: unknown) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`${text}\n`);
    process.send?.({ error: error instanceof Error ? error.message : String(error) });
    process.exitCode = 1;
  });
} else {
  main(args).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
