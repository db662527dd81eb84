import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeMachine } from './machine.js';
import type { BenchmarkResult, MachineInfo } from './types.js';

const header = `# Benchmarks

Measured by \`npm run bench\` (all) or \`npm run bench -- NAME...\` (some; a prefix such as \`strain\`
selects every benchmark whose name starts with it). Each benchmark runs in a Node process of its own;
"peak RSS" is that process's maximum resident set size. Rerunning a benchmark replaces its section
below and adds a dated JSON file under \`bench-results/\`. Targets come from DESIGN.md §5 and the issue
that asked for the benchmark.
`;

/** Writes bench-results/<timestamp>.json and returns its path. */
export function writeJsonResults(root: string, machine: MachineInfo, results: readonly BenchmarkResult[], startedAt: Date): string {
  const directory = join(root, 'bench-results');
  mkdirSync(directory, { recursive: true });
  const stamp = startedAt.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const path = join(directory, `${stamp}.json`);
  writeFileSync(path, `${JSON.stringify({ startedAt: startedAt.toISOString(), machine, results }, null, 2)}\n`);
  return path;
}

/** Replaces (or appends) the section of each benchmark in BENCHMARKS.md, leaving the others alone. */
export function updateMarkdown(root: string, machine: MachineInfo, results: readonly BenchmarkResult[]): string {
  const path = join(root, 'BENCHMARKS.md');
  let text = existsSync(path) ? readFileSync(path, 'utf8') : header;
  for (const result of results) text = withSection(text, result.name, renderSection(result, machine));
  writeFileSync(path, text.endsWith('\n') ? text : `${text}\n`);
  return path;
}

/** Replaces (or appends) one generated section of BENCHMARKS.md, by id, leaving the rest alone. */
export function updateMarkdownSection(root: string, id: string, body: string): string {
  const path = join(root, 'BENCHMARKS.md');
  const text = withSection(existsSync(path) ? readFileSync(path, 'utf8') : header, id, body);
  writeFileSync(path, text.endsWith('\n') ? text : `${text}\n`);
  return path;
}

function withSection(text: string, id: string, body: string): string {
  const start = `<!-- bench:${id}:start -->`;
  const end = `<!-- bench:${id}:end -->`;
  const section = `${start}\n${body}\n${end}`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) return text.slice(0, from) + section + text.slice(to + end.length);
  return `${text.trimEnd()}\n\n${section}\n`;
}

export function renderSection(result: BenchmarkResult, machine: MachineInfo): string {
  const rows = result.metrics.map((metric) => {
    const met = metric.met === undefined ? '' : metric.met ? 'yes' : '**no**';
    return `| ${metric.name} | ${formatValue(metric.value)} | ${metric.unit} | ${metric.target ?? ''} | ${met} | ${metric.note ?? ''} |`;
  });
  return [
    `## ${result.name}: ${result.title}`,
    '',
    result.description,
    '',
    `Run ${result.startedAt} in ${(result.durationMs / 1000).toFixed(1)} s on ${describeMachine(machine)}.`,
    '',
    '| metric | measured | unit | target | met | note |',
    '|---|---:|---|---|---|---|',
    ...rows,
  ].join('\n');
}

export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 1) return value.toFixed(2);
  if (magnitude >= 0.001) return value.toPrecision(3);
  return value.toExponential(2);
}
