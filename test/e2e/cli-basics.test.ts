import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

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
});
