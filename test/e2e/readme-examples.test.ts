import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { writeSyntheticRun } from '../../tools/fixtures/synthetic-logs.js';
import { repoRoot, sharedDir } from '../helpers/cli.js';

/*
 * README's examples, run as written (issue 19: "README's examples run as written").
 *
 * Every ```sh and ```console block of README.md is preceded by an HTML comment (invisible where
 * the README is rendered) that says what this test does with it:
 *
 *   <!-- example: run -->                      each command runs, in order, in one bash shell
 *   <!-- example: run; given: WHAT -->          the same, once the test has arranged WHAT (below)
 *   <!-- example: skip: REASON -->              not run; the test's name prints REASON
 *
 * A block without such a comment fails the test, so a new example is run or says why not. A run
 * block gets a fresh scratch directory as its working directory, the built `bin/wavefier` first on
 * the PATH (README "Install": `wavefier` on the PATH; test/e2e/install.test.ts installs it so) and
 * no Rucio settings of this machine. Each command (a line, with its `\` continuations) must exit 0,
 * or N when its comment says `exits N`; `set -o pipefail` holds, so a pipe's status is its first
 * failure. Key output is checked where it says something (`outputChecks`). What `given:` arranges:
 *
 *   the GWOSC file NAME      NAME copied into the directory from the shared data (gwosc.org's file)
 *   a lake (...)             `wavefier lake serve --dir lake` running in the directory
 *   logs (...)               made-up logs (tools/fixtures) of the runs the block names
 *   the WebDAV test kit      WAVEFIER_PEERS_DIR names the peers kits (`davs down` after, in any case)
 */

const execFileAsync = promisify(execFile);
const readmePath = join(repoRoot, 'README.md');
const peersDir = process.env.WAVEFIER_PEERS_DIR ?? join(sharedDir, 'peers');
const gwoscDir = join(sharedDir, 'data', 'gwosc');

type Marker = { kind: 'run'; given?: string } | { kind: 'skip'; reason: string };

interface Example {
  /** 1-based line of the opening fence. */
  line: number;
  marker: Marker | undefined;
  commands: string[];
}

/** The README's ```sh and ```console blocks, each with the marker comment right above it. */
function readmeExamples(text: string): Example[] {
  const lines = text.split('\n');
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)\s*$/.exec(lines[i] ?? '');
    if (fence === null) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`README.md:${i + 1}: a code block is never closed`);
    const lang = fence[1] ?? '';
    if (lang === 'sh' || lang === 'console') {
      const body = lines.slice(i + 1, end);
      examples.push({ line: i + 1, marker: parseMarker(lines[i - 1] ?? ''), commands: lang === 'console' ? consoleCommands(body) : shellCommands(body) });
    }
    i = end;
  }
  return examples;
}

function parseMarker(line: string): Marker | undefined {
  const match = /^<!-- example: (.*) -->$/.exec(line.trim());
  if (match === null) return undefined;
  const body = match[1] ?? '';
  const skip = /^skip: (.+)$/.exec(body);
  if (skip !== null) return { kind: 'skip', reason: skip[1] ?? '' };
  const run = /^run(?:; given: (.+))?$/.exec(body);
  if (run === null) throw new Error(`README marker not understood: ${line.trim()} (run, run; given: WHAT, or skip: REASON)`);
  return run[1] === undefined ? { kind: 'run' } : { kind: 'run', given: run[1] };
}

/** A shell block's commands: lines joined over `\` continuations, blank and comment lines left out. */
function shellCommands(body: readonly string[]): string[] {
  const commands: string[] = [];
  let pending = '';
  for (const line of body) {
    pending += line;
    if (line.endsWith('\\')) {
      pending += '\n';
      continue;
    }
    if (pending.trim() !== '' && !pending.trim().startsWith('#')) commands.push(pending);
    pending = '';
  }
  return commands;
}

/** A console transcript's commands: the lines after its `$ ` prompts. */
function consoleCommands(body: readonly string[]): string[] {
  return body.filter((line) => line.startsWith('$ ')).map((line) => line.slice(2));
}

/** The status a command's own comment promises (`# exits 3, ...`), else 0. */
function expectedStatus(command: string): number {
  const comment = /\s#\s(.*)$/.exec(command.split('\n').at(-1) ?? '');
  const stated = /\bexits (\d+)\b/.exec(comment?.[1] ?? '');
  return stated === null ? 0 : Number(stated[1]);
}

interface CommandResult {
  command: string;
  status: number | undefined;
  stdout: string;
  stderr: string;
}

/** Key output of commands, where the exit status alone would not show that the example did what it says. */
const outputChecks: { command: RegExp; check: (result: CommandResult) => void }[] = [
  {
    command: /\bwavefier rehearse\b/,
    check: ({ status, stdout }) => {
      if (status === 0) expect(stdout).toMatch(/^PASS: all \d+ chunks uploaded, all downloaded, none corrupted/m);
      if (status === 3) expect(stdout).toMatch(/^FAIL: \d+ chunks? corrupted/m);
      expect(stdout).toMatch(/^report page +\S+report\.html$/m);
    },
  },
  { command: /\bwavefier inspect\b/, check: ({ stdout }) => expect(stdout).toMatch(/H1/) },
  {
    command: /lake serve \| head -1/,
    check: ({ stdout }) => expect((JSON.parse(stdout.trim().split('\n')[0] ?? '') as { event?: string }).event).toBe('lake-ready'),
  },
  { command: /\bwavefier doctor\b/, check: ({ stdout }) => expect(stdout).toMatch(/authentication/) },
  { command: /--run 20261126T154733Z-eade/, check: ({ stdout }) => expect(stdout).toMatch(/^run 20261126T154733Z-eade/m) },
  { command: /ego-logs\/ cnaf-logs\//, check: ({ stdout }) => expect(stdout).toMatch(/^PASS: /m) },
  { command: /--slo /, check: ({ stdout }) => expect(stdout).toMatch(/total\.p99.* met/) },
  { command: /--compare /, check: ({ stdout }) => expect(stdout).toMatch(/20261119T101500Z-1a2b/) },
  { command: /jq \.integrity/, check: ({ stdout }) => expect((JSON.parse(stdout) as { verified?: number }).verified).toBe(120) },
];

const separator = '@@readme-example@@';
/** A block that takes longer has hung (the slowest takes about 30 s on a busy 2-core machine). */
const blockTimeoutMs = 150_000;

/** Runs a block's commands in one bash shell in `cwd`; each command's status and output. */
async function runCommands(commands: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CommandResult[]> {
  const script = ['set -o pipefail', ...commands.flatMap((command, i) => [`printf '\\n${separator}${i}\\n'; printf '\\n${separator}${i}\\n' >&2`, command, 'echo "$?" >&3'])].join('\n');
  // A process group of its own, so that a command that hangs is stopped with everything it started.
  const child = spawn('bash', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'], detached: true });
  const stopGroup = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const hung = { timedOut: false };
  const timer = setTimeout(() => {
    hung.timedOut = true;
    stopGroup('SIGTERM');
    setTimeout(() => stopGroup('SIGKILL'), 5000).unref();
  }, blockTimeoutMs);
  const collect = (stream: NodeJS.ReadableStream | null | undefined): Promise<string> =>
    new Promise((resolve) => {
      let text = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => (text += chunk));
      stream?.on('end', () => resolve(text));
    });
  const [stdout, stderr, statuses] = await Promise.all([collect(child.stdout), collect(child.stderr), collect(child.stdio[3] as NodeJS.ReadableStream), new Promise((resolve) => child.on('close', resolve))]);
  clearTimeout(timer);
  if (hung.timedOut) throw new Error(`still running after ${blockTimeoutMs / 1000} s, stopped\n--- stdout\n${stdout.slice(-3000)}\n--- stderr\n${stderr.slice(-3000)}`);
  const split = (text: string): string[] => text.split(new RegExp(`\\n${separator}\\d+\\n`)).slice(1);
  const outs = split(stdout);
  const errs = split(stderr);
  const codes = statuses.trim().split('\n').filter((s) => s !== '').map(Number);
  return commands.map((command, i) => ({ command, status: codes[i], stdout: outs[i] ?? '', stderr: errs[i] ?? '' }));
}

/** This process's environment without the Rucio, grid and wavefier settings of the machine, `wavefier` first on the PATH. */
function exampleEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(RUCIO_|X509_|BEARER_TOKEN|WAVEFIER_|AWS_)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, PATH: `${join(repoRoot, 'bin')}:${process.env.PATH ?? ''}`, CI: '1', NO_COLOR: '1', WAVEFIER_PEERS_DIR: peersDir };
}

/** What a block's `given:` needs, arranged in `dir`; what to undo afterwards. */
async function arrange(given: string, dir: string, env: NodeJS.ProcessEnv): Promise<() => Promise<void>> {
  const gwosc = /^the GWOSC file (\S+)$/.exec(given);
  if (gwosc !== null) {
    await copyFile(join(gwoscDir, gwosc[1] ?? ''), join(dir, gwosc[1] ?? ''));
    return async () => undefined;
  }
  if (given.startsWith('a lake ')) return startLake(dir, env);
  if (given.startsWith('logs ')) {
    await writeReadmeLogs(dir);
    return async () => undefined;
  }
  if (given.startsWith('the WebDAV test kit')) {
    expect(existsSync(join(peersDir, 'davs', 'davs')), `the WebDAV test kit in ${peersDir}`).toBe(true);
    // The block ends with `davs down`; should it fail before, the server must not outlive the test.
    return async () => {
      if (existsSync(join(dir, 'dv'))) await execFileAsync(join(peersDir, 'davs', 'davs'), ['down', '--dir', join(dir, 'dv')]).catch(() => undefined);
    };
  }
  throw new Error(`README example: unknown given "${given}" (see the comment at the top of this test)`);
}

/** `wavefier lake serve --dir lake`, as the README's doctor example has it running, until the block ends. */
async function startLake(dir: string, env: NodeJS.ProcessEnv): Promise<() => Promise<void>> {
  const lake: ChildProcess = spawn('wavefier', ['--json', 'lake', 'serve', '--dir', 'lake'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => lake.on('exit', resolve));
  const lines = createInterface({ input: lake.stdout as NodeJS.ReadableStream });
  const ready = await Promise.race([new Promise<string>((resolve) => lines.once('line', resolve)), exited.then(() => undefined)]);
  expect(ready, 'wavefier lake serve --dir lake: its ready line').toBeDefined();
  return async () => {
    lake.kill('SIGTERM');
    await exited;
  };
}

/** The runs the report examples name: one in ./logs, one split over two hosts' folders, and last week's. */
async function writeReadmeLogs(dir: string): Promise<void> {
  // Latencies of a healthy 1 Hz run (tens of ms up, a hundred or two to the consumer), so the objectives of the example hold.
  const quick = { chunks: 120, uploadLatencyMs: (seq: number) => 15 + (seq % 7) * 3, downstreamMs: (seq: number) => 80 + (seq % 11) * 10, scope: 'wavefier' };
  await writeSyntheticRun({ ...quick, logDir: join(dir, 'logs'), run: '20261126T154733Z-eade' });
  await writeSyntheticRun({ ...quick, logDir: join(dir, 'ego-logs'), run: '20261126T120000Z-0e90', withoutDownloadLog: true });
  await writeSyntheticRun({ ...quick, logDir: join(dir, 'cnaf-logs'), run: '20261126T120000Z-0e90', withoutUploadLog: true });
  await writeSyntheticRun({ ...quick, logDir: join(dir, 'last-week'), run: '20261119T101500Z-1a2b', t0: Date.UTC(2026, 10, 19, 10, 15, 0) });
}

const examples = readmeExamples(await readFile(readmePath, 'utf8'));

describe("README's examples", () => {
  it('every ```sh and ```console block says whether the test runs it', () => {
    const unmarked = examples.filter((example) => example.marker === undefined).map((example) => `README.md:${example.line}`);
    expect(unmarked, 'blocks without <!-- example: run --> or <!-- example: skip: REASON --> above them').toEqual([]);
    expect(examples.filter((example) => example.marker?.kind === 'run').length).toBeGreaterThanOrEqual(5);
  });

  let cleanup: (() => Promise<void>) | undefined;
  let scratch: string | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
    scratch = undefined;
  });

  for (const example of examples) {
    const marker = example.marker;
    const title = `README.md:${example.line}: ${example.commands[0]?.split('\n')[0] ?? '(no command)'}`;
    if (marker?.kind !== 'run') {
      it.skip(`${title} (skipped: ${marker?.kind === 'skip' ? marker.reason : 'no marker'})`, () => undefined);
      continue;
    }
    it(title, async () => {
      scratch = await mkdtemp(join(tmpdir(), 'wavefier-readme-'));
      const env = exampleEnv();
      if (marker.given !== undefined) cleanup = await arrange(marker.given, scratch, env);
      const results = await runCommands(example.commands, scratch, env);
      for (const result of results) {
        const context = `README.md:${example.line}: \`${result.command}\`\n--- stdout\n${result.stdout.slice(-3000)}\n--- stderr\n${result.stderr.slice(-3000)}`;
        expect(result.status, context).toBe(expectedStatus(result.command));
        for (const { command, check } of outputChecks) {
          if (!command.test(result.command)) continue;
          try {
            check(result);
          } catch (error) {
            throw new Error(`${context}\n${error instanceof Error ? error.message : String(error)}`, { cause: error });
          }
        }
      }
      // The lake's example tells what to export: those places exist.
      if (example.commands.some((command) => command.includes('export RUCIO_HOME=./.wavefier/lake'))) {
        expect(existsSync(join(scratch, '.wavefier', 'lake', 'etc', 'rucio.cfg'))).toBe(true);
        expect(existsSync(join(scratch, '.wavefier', 'lake', 'tls', 'certificates'))).toBe(true);
      }
    }, blockTimeoutMs + 30_000);
  }
});
