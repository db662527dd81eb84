import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli, wavefierBin } from '../helpers/cli.js';
import { h1_4k } from '../fixtures/strain/files.js';

/**
 * Runs bin/wavefier with a stdout whose reader is gone before it writes (`wavefier --help | head -1`,
 * where head exits after its line): every write fails with EPIPE.
 */
function runWithClosedStdout(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [wavefierBin, ...args], { cwd: repoRoot, env: { ...process.env, CI: '1', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('wavefier CLI basics', () => {
  it('prints help with the exit codes and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: wavefier');
    expect(result.stdout).toContain('--json');
    expect(result.stdout).toMatch(/3 +integrity failure/);
  });

  it('prints the package version', async () => {
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('rejects an unknown command with exit 2 and one clear line', async () => {
    const result = await runCli(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/error: (unknown command|too many arguments)/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('ends quietly with its own status when the reader of its output goes away (`| head -1`)', async () => {
    for (const [args, code] of [[['--help'], 0], [['--version'], 0], [['inspect', h1_4k], 0], [['inspect', 'no-such-file.hdf5'], 2]] as const) {
      const result = await runWithClosedStdout(args);
      expect(result.stderr, args.join(' ')).not.toMatch(/EPIPE|\n\s+at /);
      expect(result.code, args.join(' ')).toBe(code);
    }
  });
});
