import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/common/errors.js';
import { lfn2pfn } from '../../src/rucio/index.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

/**
 * The CLI as a rucio user types it: the rucio client's connection flags, DIDs as arguments,
 * -v/-q, durations with units, `upload --dry-run`, `download --dir`, and every exit status in --help.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
}, 60_000);
afterAll(async () => {
  await stack.dispose();
});

/** No rucio.cfg anywhere: the connection comes from the flags alone. */
function bareEnv(): NodeJS.ProcessEnv {
  return { RUCIO_HOME: join(stack.dir, 'no-config'), RUCIO_CONFIG: '', RUCIO_HOST: '', RUCIO_ACCOUNT: '' };
}

describe('top-level help', () => {
  it('lists every exit status, the same ones as README "Exit status"', async () => {
    const help = (await runCli(['--help'])).stdout;
    const section = help.slice(help.indexOf('Exit status:'));
    const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Exit status'), readme.indexOf('\n## ', readme.indexOf('## Exit status') + 5));
    const readmeCodes = [...table.matchAll(/^\| ([\d /]+) \|/gm)].flatMap((match) => (match[1] ?? '').split('/').map((code) => Number(code.trim())));
    for (const code of Object.values(ExitCode)) {
      expect(section, `exit ${code} in --help`).toMatch(new RegExp(`(^|\\s|/)${code}(\\s|/)`, 'm'));
      expect(readmeCodes, `exit ${code} in README`).toContain(code);
    }
    expect(section).toMatch(/4 +report, rehearse: the run stopped early/);
  });

  it('offers -v/--verbose and -q/--quiet, which cannot be combined', async () => {
    const help = (await runCli(['--help'])).stdout;
    expect(help).toMatch(/-v, --verbose/);
    expect(help).toMatch(/-q, --quiet/);
    const both = await runCli(['-v', '-q', 'inspect', 'nothing.hdf5']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/cannot be used with/);
  });
});

describe('the Rucio connection flags under the rucio client names', () => {
  it('connects with -H, -a, -u and the password from RUCIO_PASSWORD, never from a flag', async () => {
    const { settings } = stack.lake;
    const args = ['doctor', '-H', settings.rucioHost, '-a', settings.account, '-S', 'userpass', '-u', settings.username];
    const ok = await runCli(args, { env: { ...bareEnv(), RUCIO_PASSWORD: settings.password } });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/ok +authentication/);
    expect(ok.stdout + ok.stderr).not.toContain(settings.password);

    const wrong = await runCli(args, { env: { ...bareEnv(), RUCIO_PASSWORD: 'not-the-password' } });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout).toMatch(/FAIL +authentication/);

    for (const flag of ['--password', '--pwd']) {
      const refused = await runCli([...args, flag, settings.password], { env: bareEnv() });
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim()).toBe(
        `wavefier: error: ${flag} is not accepted: a password on the command line shows in \`ps\` and in shell histories; set RUCIO_PASSWORD in the environment or password in rucio.cfg [client]`,
      );
    }
  });

  it('reads the rucio.cfg that --config names, and says so when it does not exist', async () => {
    const cfg = join(stack.lake.settings.rucioHome, 'etc', 'rucio.cfg');
    const ok = await runCli(['doctor', '--config', cfg], { env: bareEnv() });
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toContain(`ok    config         ${cfg}:`);
    const missing = await runCli(['doctor', '--config', join(stack.dir, 'nope.cfg')], { env: bareEnv() });
    expect(missing.code).toBe(2);
    expect(missing.stdout).toContain(`--config ${join(stack.dir, 'nope.cfg')}: no such file`);
  });

  it('still takes the older names (--rucio-host, --auth-type, --ca-cert), and refuses two names that disagree', async () => {
    const { settings } = stack.lake;
    const old = await runCli(['doctor', '--rucio-host', settings.rucioHost, '--auth-type', 'userpass', '--account', 'root'], {
      env: { RUCIO_HOME: stack.lake.settings.rucioHome },
    });
    expect(old.code, old.stdout).toBe(0);
    const clash = await runCli(['doctor', '-H', settings.rucioHost, '--rucio-host', 'http://127.0.0.1:1'], { env: bareEnv() });
    expect(clash.code).toBe(2);
    expect(clash.stdout).toContain('--host and --rucio-host name the same setting with different values');
  });

  it('lists the rucio names in --help and hides the older ones', async () => {
    const help = (await runCli(['download', '--help'])).stdout;
    for (const flag of ['-H, --host <url>', '--auth-host <url>', '-a, --account <name>', '-S, --auth-strategy <type>', '-u, --user <name>', '--certificate <path>', '--client-key <path>', '--ca-certificate <path>', '--config <file>']) {
      expect(help).toContain(flag);
    }
    for (const hidden of ['--rucio-host', '--auth-type', '--ca-cert ', '--password', '--pwd', '--dest']) expect(help).not.toContain(hidden);
  });
});

describe('flags with one meaning across commands', () => {
  it('refuses a duration without a unit instead of guessing seconds', async () => {
    for (const [command, flag] of [
      ['upload', '--duration'],
      ['rehearse', '--duration'],
      ['download', '--poll-interval'],
      ['rehearse', '--deadline'],
    ] as const) {
      const result = await runCli([command, flag, '4', '--rse', 'X', '--dataset', 'd'], { env: bareEnv() });
      expect(result.code, `${command} ${flag}`).toBe(2);
      expect(result.stderr).toContain(`invalid ${flag} '4': give a unit, e.g. 4s, 4m or 4h (a bare number is ambiguous)`);
    }
  });

  it("says in rehearse's help where its defaults differ from upload's and download's, and why", async () => {
    const help = (await runCli(['rehearse', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(/--rate-factor <n> .*10 here so that a first try takes seconds, 1 in upload\) \(default: 10\)/);
    expect(help).toMatch(/--keep <what> .*none here, all in download: a rehearsal checks, it does not collect/);
    expect(help).toMatch(/--upload-workers <n> concurrent uploads: upload's --workers/);
    expect(help).toMatch(/--download-workers <n> download's --workers: 0 here, the download verifies in its own process/);
    expect(help).not.toMatch(/ --workers <n>/);
  });
});

describe('DIDs, --dir, --dry-run and -q on a real run', () => {
  it('upload --dry-run resolves the RSE, its protocol, the PFN of chunk 0 and the schedule, and writes nothing', async () => {
    const logs = join(stack.dir, 'dry-logs');
    const result = await runCli(['upload', 'wavefier:dry-run-ds', '--source', 'synthetic', '--rse', 'LAKE_S3', '--count', '30', '--rate-factor', '10', '--dry-run', '--log-dir', logs, '--redis', 'redis://127.0.0.1:1'], { env: stack.env });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^upload dry run: nothing was written/);
    expect(result.stdout).toMatch(/schedule +30 chunks of 1\.00 s, one every 100 ms \(rate factor 10\), 3\.00 s in all/);
    expect(result.stdout).toContain('dataset    wavefier:dry-run-ds (does not exist: the upload creates it)');
    expect(result.stdout).toMatch(/rse +LAKE_S3: protocol https:\/\/127\.0\.0\.1:\d+\/wavefier-lake\/, deterministic, lfn2pfn hash/);
    const name = /chunk 0 +wavefier:(\S+) \(\d+ bytes\)/.exec(result.stdout)?.[1] ?? '';
    const rse = await stack.rucio.rse('LAKE_S3');
    const protocol = rse.protocols[0];
    if (protocol === undefined) throw new Error('LAKE_S3 has no protocol');
    expect(result.stdout).toContain(`pfn        ${lfn2pfn('wavefier', name, protocol, 'hash')}`);
    // Nothing was written: no dataset, no log directory (Redis, unreachable here, was never asked).
    await expect(stack.rucio.getDid('wavefier', 'dry-run-ds')).rejects.toThrow(/not found|DataIdentifierNotFound/i);
    expect(existsSync(logs)).toBe(false);
  });

  it('uploads to a scope:name DID, downloads it with --dir (and --dest), quietly with -q', async () => {
    const logs = join(stack.dir, 'logs');
    const upload = await runCli(
      ['-q', 'upload', 'wavefier:did-ds-1', '--source', 'synthetic', '--rse', 'LAKE_S3', '--count', '3', '--rate-factor', '20', '--close-dataset', '--redis', stack.redis.url, '--log-dir', logs],
      { env: stack.env, timeoutMs: 60_000 },
    );
    expect(upload.code, upload.stderr).toBe(0);
    expect(upload.stderr).toBe('');
    expect(upload.stdout).toMatch(/upload run \S+: wavefier:did-ds-1 on LAKE_S3/);

    const into = join(stack.dir, 'down');
    const download = await runCli(['download', 'wavefier:did-ds-1', '--dir', into, '--until-closed', '--workers', '1', '--redis', stack.redis.url, '--log-dir', logs], {
      env: stack.env,
      timeoutMs: 60_000,
    });
    expect(download.code, download.stderr).toBe(0);
    expect((await readdir(join(into, 'did-ds-1'))).length).toBe(3);

    const older = join(stack.dir, 'down-dest');
    const alias = await runCli(['-q', 'download', '--dataset', 'did-ds-1', '--dest', older, '--until-closed', '--workers', '1', '--redis', stack.redis.url, '--log-dir', join(stack.dir, 'logs2')], {
      env: stack.env,
      timeoutMs: 60_000,
    });
    expect(alias.code, alias.stderr).toBe(0);
    expect(alias.stderr).toBe('');
    expect((await readdir(join(older, 'did-ds-1'))).length).toBe(3);
  }, 120_000);

  it('refuses a DID that disagrees with --scope or --dataset, and a download that names no dataset', async () => {
    const scope = await runCli(['download', 'other:ds', '--scope', 'wavefier'], { env: stack.env });
    expect(scope.code).toBe(2);
    expect(scope.stderr.trim()).toBe('wavefier: error: the DID other:ds names scope other, but --scope says wavefier: give one');
    const name = await runCli(['upload', 'wavefier:a', '--dataset', 'b', '--source', 'synthetic', '--rse', 'LAKE_S3'], { env: stack.env });
    expect(name.code).toBe(2);
    expect(name.stderr.trim()).toBe('wavefier: error: the DID wavefier:a names dataset a, but --dataset says b: give one');
    const none = await runCli(['download'], { env: stack.env });
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toBe('wavefier: error: name the dataset to follow: wavefier download scope:name (or --dataset NAME)');
    const bad = await runCli(['download', 'wavefier:'], { env: stack.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("invalid DID 'wavefier:'");
  });
});
