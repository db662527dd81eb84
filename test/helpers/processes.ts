import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot, wavefierBin } from './cli.js';

/** One process as /proc shows it. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  command: string;
}

function readProcess(pid: number): (ProcessInfo & { zombie: boolean }) | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name in parentheses: state ppid pgrp ...
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    return { pid, ppid: Number(fields[1]), pgid: Number(fields[2]), command, zombie: fields[0] === 'Z' };
  } catch {
    return undefined;
  }
}

/** Whether `pid` runs (a zombie waiting for init to collect its status runs no more). */
export function isRunning(pid: number): boolean {
  const info = readProcess(pid);
  return info !== undefined && !info.zombie;
}

/** Every running process below `pid` (children, their children...). */
export function descendantsOf(pid: number): ProcessInfo[] {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readProcess(Number(name)))
    .filter((info): info is ProcessInfo & { zombie: boolean } => info !== undefined && !info.zombie);
  const found: ProcessInfo[] = [];
  const parents = [pid];
  while (parents.length > 0) {
    const parent = parents.shift();
    for (const info of all) {
      if (info.ppid !== parent) continue;
      found.push(info);
      parents.push(info.pid);
    }
  }
  return found;
}

/** The process group of `pid` (field 5 of /proc/<pid>/stat). */
export function processGroupOf(pid: number): number | undefined {
  return readProcess(pid)?.pgid;
}

/** Polls `check` every 50 ms until it is true or `timeoutMs` passed; says whether it became true. */
export async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

/** Waits until `file` holds `text` (a log line appeared), or fails after `timeoutMs`. */
export async function untilFileHolds(file: string, text: string | RegExp, timeoutMs: number): Promise<void> {
  const matches = (): boolean => {
    if (!existsSync(file)) return false;
    const content = readFileSync(file, 'utf8');
    return typeof text === 'string' ? content.includes(text) : text.test(content);
  };
  if (!(await eventually(matches, timeoutMs))) throw new Error(`${file} did not show ${String(text)} within ${timeoutMs} ms`);
}

export interface ForegroundResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** When the process exited (Date.now()). */
  exitedAt: number;
}

export interface ForegroundJob {
  child: ChildProcess;
  pid: number;
  done: Promise<ForegroundResult>;
  stderr(): string;
  /** What a terminal does on Ctrl-C: the signal to the whole process group. Returns when it was sent. */
  interrupt(signal?: NodeJS.Signals): number;
}

/**
 * Starts the built `bin/wavefier` as a shell starts a foreground job: in a process group of its own,
 * which is the group a terminal's Ctrl-C signals.
 */
export function startForeground(args: readonly string[], env: NodeJS.ProcessEnv = {}): ForegroundJob {
  const child = spawn(process.execPath, [wavefierBin, ...args], {
    cwd: repoRoot,
    env: { ...process.env, CI: '1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const pid = child.pid;
  if (pid === undefined) throw new Error('wavefier did not start');
  const done = new Promise<ForegroundResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, exitedAt: Date.now() }));
  });
  return {
    child,
    pid,
    done,
    stderr: () => stderr,
    interrupt(signal = 'SIGINT') {
      process.kill(-pid, signal);
      return Date.now();
    },
  };
}

/** Kills whatever of a job is still there (a failed test must not leave processes behind). */
export function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
