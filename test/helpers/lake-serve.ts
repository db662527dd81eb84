import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { repoRoot, wavefierBin } from './cli.js';

export interface LakeServeProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** Its exit, whenever it comes. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Its first line on stdout (the ready object), parsed; fails when the process exits before it or
   * nothing comes within `timeoutMs`, with what it said on stderr.
   */
  ready<T>(timeoutMs?: number): Promise<T>;
  /** Everything it printed so far. */
  stdout(): string;
  stderr(): string;
}

/** Starts `wavefier --json lake serve ARGS` (the built executable) as a user starts it. */
export function spawnLakeServe(args: readonly string[]): LakeServeProcess {
  const child = spawn(process.execPath, [wavefierBin, '--json', 'lake', 'serve', ...args], {
    cwd: repoRoot,
    env: { ...process.env, CI: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let exitCode: string | undefined;
  const waiting = new Set<() => void>();
  const wake = (): void => {
    for (const check of waiting) check();
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      exitCode = signal ?? `code ${code ?? '?'}`;
      resolve({ code, signal });
      wake();
    }),
  );
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    ready: <T>(timeoutMs = 30_000) =>
      new Promise<T>((resolve, reject) => {
        const settle = (error: Error | undefined): void => {
          clearTimeout(timer);
          waiting.delete(check);
          if (error !== undefined) {
            reject(error);
            return;
          }
          const line = stdout.slice(0, stdout.indexOf('\n'));
          try {
            resolve(JSON.parse(line) as T);
          } catch {
            reject(new Error(`the first line of wavefier lake serve is not JSON: ${line}`));
          }
        };
        const check = (): void => {
          if (stdout.includes('\n')) settle(undefined);
          else if (exitCode !== undefined) settle(new Error(`wavefier lake serve exited (${exitCode}) without a ready line; stderr: ${stderr}`));
        };
        const timer = setTimeout(() => settle(new Error(`wavefier lake serve printed no ready line within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
        waiting.add(check);
        check();
      }),
  };
}
