import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

/**
 * `wavefier download` says so when it cannot do its job (built bin, embedded lake, real Redis):
 * rejected credentials stop it at once with exit 2; a catalog that does not answer is tried again
 * for --give-up-after, with an error line, then exit 1; a stop condition reached without one answer
 * is a failure; a dataset that does not exist yet is a warning whatever the stop rule.
 */

let stack: TestStack;
beforeEach(async () => {
  stack = await startTestStack();
});
afterEach(async () => {
  await stack.dispose();
});

/** Command lines of the running processes that contain `text`. */
async function processesNaming(text: string): Promise<string[]> {
  const entries = await readdir('/proc').catch(() => []);
  const lines = await Promise.all(
    entries.filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid).map((pid) => readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')),
  );
  return lines.map((line) => line.replaceAll('\0', ' ').trim()).filter((line) => line.includes(text));
}

/** A copy of the lake's rucio.cfg with some keys changed, as RUCIO_CONFIG. */
async function configWith(changes: Record<string, string>): Promise<NodeJS.ProcessEnv> {
  const original = await readFile(join(stack.lake.settings.rucioHome, 'etc', 'rucio.cfg'), 'utf8');
  const changed = original
    .split('\n')
    .map((line) => {
      const key = /^(\w+)\s*=/.exec(line)?.[1];
      return key !== undefined && key in changes ? `${key} = ${changes[key]}` : line;
    })
    .join('\n');
  const path = join(stack.dir, `rucio-${Object.keys(changes).join('-')}.cfg`);
  await writeFile(path, changed, { mode: 0o600 });
  return { RUCIO_CONFIG: path };
}

async function download(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number | null; stderr: string; stdout: string; ms: number }> {
  const started = Date.now();
  const result = await runCli(['download', '--dataset', 'ds-x', '--keep', 'none', '--redis', stack.redis.url, '--log-dir', join(stack.dir, 'logs'), ...args], {
    env: { ...stack.env, ...env },
    timeoutMs: 60_000,
  });
  return { ...result, ms: Date.now() - started };
}

describe('download fails loudly (built bin, embedded lake, real Redis)', () => {
  it('exits 2 at start when the server rejects the credentials, and stops the worker processes it started alongside', async () => {
    const result = await download(await configWith({ password: 'not-the-password' }), ['--until-idle', '2s']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/wavefier: error: authenticate account root \(userpass\) at http:\/\/127\.0\.0\.1:\d+ failed: HTTP 401 .*; check the account, the credentials/);
    expect(result.stderr).not.toMatch(/not-the-password/);
    // Nothing the worker processes said while they were being stopped.
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stdout).toBe('');
    expect(result.ms).toBeLessThan(15_000);
    // The worker processes start before the credentials are checked (they load their modules meanwhile): none is left.
    expect(await processesNaming(join(stack.dir, 'logs'))).toEqual([]);
  });

  it('tries an unreachable catalog again for --give-up-after, with one error line, then exits 1', async () => {
    const result = await download(await configWith({ rucio_host: 'http://127.0.0.1:1', auth_host: 'http://127.0.0.1:1' }), ['--until-idle', '1s', '--give-up-after', '3s']);
    expect(result.code).toBe(1);
    expect(result.stderr.match(/^error: the catalog at http:\/\/127\.0\.0\.1:1 does not answer \(.*ECONNREFUSED.*\); trying again for up to 3\.00 s \(--give-up-after\)$/gm)).toHaveLength(1);
    expect(result.stderr).toMatch(/wavefier: error: the catalog at http:\/\/127\.0\.0\.1:1 has not answered for [\d.]+ s \(last error: .*\); check rucio_host and the network, or allow longer with --give-up-after/);
    // The idle rule did not end it with exit 0: idleness counts from the first answer.
    expect(result.stderr).not.toMatch(/stopped \(idle/);
    // Within the give-up time plus the start-up and one request's retries.
    expect(result.ms).toBeLessThan(30_000);
  });

  it('calls a stop condition reached without one answer from the catalog a failure', async () => {
    const result = await download(await configWith({ rucio_host: 'http://127.0.0.1:1', auth_host: 'http://127.0.0.1:1' }), ['--duration', '2s']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/wavefier: error: download stopped \(duration 2\.00 s reached\) without one answer from the catalog at http:\/\/127\.0\.0\.1:1 \(last error: .*ECONNREFUSED.*\); nothing was checked/);
  });

  it('warns about a dataset that does not exist yet, with --duration as with any stop rule', async () => {
    const result = await download({}, ['--duration', '2s']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^warning: waiting for wavefier:ds-x to appear: the dataset does not exist \(yet\)$/m);
    expect(result.stderr).toMatch(/^warning: dataset wavefier:ds-x never appeared: nothing was downloaded$/m);
    expect(result.stdout).toMatch(/stopped \(duration 2\.00 s reached; the dataset never appeared\)/);
  });
});
