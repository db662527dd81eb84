import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';
import { h1_4k } from '../fixtures/strain/files.js';

/*
 * README "Install", as a newcomer types it, into a temporary prefix: `npm install -g .` from a
 * clone puts `wavefier` on the PATH, and `npm pack` makes a package that holds what it needs. The
 * clone is a copy of this checkout (package.json, bin/, the built dist/) with a hard-linked copy of
 * node_modules, so that nothing npm does can touch the checkout's own. Installing the packed
 * tarball fetches every dependency from the registry and compiles better-sqlite3 where no prebuilt
 * binary can be downloaded (20 minutes on the 2-core test machine): that test runs only with
 * WAVEFIER_TEST_PACK_INSTALL=1.
 */

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wavefier-install-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The environment of a shell whose PATH starts with the prefix's bin/, and whose npm writes nowhere else. */
function shellWith(prefix: string): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}`, npm_config_prefix: prefix, npm_config_cache: join(dir, 'npm-cache') };
}

describe('installing wavefier on the PATH', () => {
  it('npm install -g . from a clone: `wavefier` runs from the PATH, outside the clone: --version, --help, inspect, a short rehearse', async () => {
    const clone = join(dir, 'clone');
    await mkdir(clone);
    for (const entry of ['package.json', 'bin', 'dist']) await cp(join(repoRoot, entry), join(clone, entry), { recursive: true });
    await run('cp', ['-al', join(repoRoot, 'node_modules/'), join(clone, 'node_modules')]);
    const prefix = join(dir, 'prefix');
    await run('npm', ['install', '-g', '.', '--offline', '--no-audit', '--no-fund'], { cwd: clone, env: shellWith(prefix) });
    expect(await readlink(join(prefix, 'bin', 'wavefier'))).toBe('../lib/node_modules/wavefier/bin/wavefier');
    const version = await run('wavefier', ['--version'], { cwd: dir, env: shellWith(prefix) });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = await run('wavefier', ['clean', '--help'], { cwd: dir, env: shellWith(prefix) });
    expect(help.stdout).toMatch(/Usage: wavefier clean/);
    // What the bundle loads beside itself at run time, from the installed copy: the HDF5 decoder's
    // WebAssembly file, the native add-ons, the lake's S3 server, the worker processes, the plots.
    const inspect = await run('wavefier', ['--json', 'inspect', h1_4k], { cwd: dir, env: shellWith(prefix) });
    expect(JSON.parse(inspect.stdout.trim().split('\n').at(-1) ?? '{}')).toMatchObject({ detector: 'H1', sampleRate: 4096 });
    const rehearsal = await run('wavefier', ['--json', 'rehearse', '--count', '5', '--rate-factor', '20', '--plots', '--log-dir', join(dir, 'rehearsals')], {
      cwd: dir,
      env: shellWith(prefix),
      timeout: 120_000,
    });
    const summary = JSON.parse(rehearsal.stdout.trim().split('\n').at(-1) ?? '{}') as { verdict?: { state?: string }; plots?: string[] };
    expect(summary.verdict?.state).toBe('pass');
    expect(summary.plots?.filter((path) => path.endsWith('.png'))).toHaveLength(5);
  }, 240_000);

  it('npm pack: the package holds the executable, the built program and nothing of the tests', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json'], { cwd: repoRoot, env: { ...process.env, npm_config_cache: join(dir, 'npm-cache') } });
    const [pack] = JSON.parse(stdout) as { files: { path: string }[] }[];
    const files = (pack?.files ?? []).map((file) => file.path);
    expect(files).toContain('bin/wavefier');
    expect(files).toContain('dist/cli/main.js');
    // What bin/wavefier runs when it is there (scripts/bundle.js).
    expect(files).toContain('dist/bundle/main.mjs');
    // The HDF5 decoder's WebAssembly, which the bundle reads from a file beside it.
    expect(files.filter((file) => /^dist\/bundle\/hdf5_util-[0-9a-f]+\.wasm$/.test(file))).toHaveLength(1);
    expect(files).toContain('package.json');
    expect(files).toContain('README.md');
    expect(files.filter((file) => /^(test|src|tools|node_modules)\//.test(file))).toEqual([]);
  }, 60_000);

  it.runIf(process.env.WAVEFIER_TEST_PACK_INSTALL === '1')('npm install -g of the packed tarball (from the registry): `wavefier --version`', async () => {
    await run('npm', ['pack', '--pack-destination', dir], { cwd: repoRoot });
    const prefix = join(dir, 'pack-prefix');
    const { version } = (await import(join(repoRoot, 'package.json'), { with: { type: 'json' } })) as { version: string };
    await run('npm', ['install', '-g', join(dir, `wavefier-${version}.tgz`), '--no-audit', '--no-fund'], { cwd: dir, env: shellWith(prefix), timeout: 3_600_000 });
    const result = await run('wavefier', ['--version'], { cwd: dir, env: shellWith(prefix) });
    expect(result.stdout.trim()).toBe(version);
  }, 3_600_000);
});
