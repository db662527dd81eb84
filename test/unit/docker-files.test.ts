import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';

/*
 * No Docker engine here: the image is never built in CI. These checks catch what would break
 * `docker build` or the init containers before anyone runs them: COPY sources that are missing
 * or excluded from the build context, stage references, the runtime stage's shape, and the
 * shell/Python syntax of the scripts the one-shot services run.
 */

const run = promisify(execFile);
const dockerDir = join(repoRoot, 'docker');

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  name: string | undefined;
  base: string;
  instructions: Instruction[];
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending !== '' && line.startsWith('#')) return; // comment inside a continued instruction
    if (pending === '') start = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = `${pending}${line}`.trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/s.exec(full);
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: start });
  });
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image = '', as, name] = instruction.args.split(/\s+/);
      const base = image.replace(/\$\{?(\w+)\}?/g, (_, arg: string) => args.get(arg) ?? `\${${arg}}`);
      stages.push({ name: as?.toUpperCase() === 'AS' ? name : undefined, base, instructions: [] });
    } else if (stages.length === 0 && instruction.keyword === 'ARG') {
      const [key = '', value = ''] = instruction.args.split('=', 2);
      args.set(key.trim(), value.trim());
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { args, stages };
}

/** COPY/ADD split into flags, sources and destination (shell or JSON form). */
function copyParts(args: string): { from: string | undefined; sources: string[]; dest: string } {
  const words = args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const rest = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: rest.slice(0, -1), dest: rest.at(-1) ?? '' };
}

/**
 * Whether `.dockerignore` lets `path` into the build context: patterns in order, the last one
 * matching the path or one of its parent directories wins, `!` re-includes (Docker's rules).
 */
function admittedBy(dockerignore: string): (path: string) => boolean {
  const patterns = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const glob = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const source = glob
        .split(/(\*\*|\*|\?)/)
        .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('');
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  return (path) => {
    const clean = path.replace(/^\.\/|\/+$/g, '');
    const segments = clean.split('/');
    const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const { negate, regex } of patterns) {
      if (prefixes.some((p) => regex.test(p))) excluded = !negate;
    }
    return !excluded;
  };
}

/** What would break `docker build` at a COPY: missing sources, excluded sources, unknown stages. */
function copyProblems(dockerfile: string, context: string, admitted: (path: string) => boolean): string[] {
  const problems: string[] = [];
  const known = new Set<string>();
  for (const stage of parseDockerfile(dockerfile).stages) {
    for (const { keyword, args, line } of stage.instructions) {
      if (keyword !== 'COPY' && keyword !== 'ADD') continue;
      const { from, sources } = copyParts(args);
      if (from !== undefined) {
        if (!known.has(from)) problems.push(`line ${line}: --from=${from} is not an earlier stage`);
        continue;
      }
      for (const source of sources) {
        if (!existsSync(join(context, source))) problems.push(`line ${line}: ${source} does not exist`);
        else if (!admitted(source)) problems.push(`line ${line}: ${source} is excluded by .dockerignore`);
      }
    }
    if (stage.name !== undefined) known.add(stage.name);
  }
  return problems;
}

let dockerfile: string;
let dockerignore: string;

beforeAll(async () => {
  dockerfile = await readFile(join(dockerDir, 'Dockerfile'), 'utf8');
  dockerignore = await readFile(join(repoRoot, '.dockerignore'), 'utf8');
});

describe('docker/Dockerfile', () => {
  it('copies only files that exist and that .dockerignore lets into the context', () => {
    expect(copyProblems(dockerfile, repoRoot, admittedBy(dockerignore))).toEqual([]);
  });

  it('the COPY check reports a missing file, an excluded file and an unknown stage', () => {
    const broken = [
      'FROM node:20-bookworm-slim AS build',
      'COPY package.json no-such-file.json ./',
      'COPY node_modules ./node_modules',
      'FROM node:20-bookworm-slim',
      'COPY --from=prod-deps /app/node_modules ./node_modules',
    ].join('\n');
    expect(copyProblems(broken, repoRoot, admittedBy(dockerignore))).toEqual([
      'line 2: no-such-file.json does not exist',
      'line 3: node_modules is excluded by .dockerignore',
      'line 5: --from=prod-deps is not an earlier stage',
    ]);
  });

  it('builds with dev dependencies, then runs node:20-bookworm-slim with production dependencies built on the toolchain', async () => {
    const { stages } = parseDockerfile(dockerfile);
    const byName = new Map(stages.map((s) => [s.name, s]));
    const runs = (stage: Stage | undefined): string =>
      (stage?.instructions ?? []).filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');

    const toolchain = byName.get('toolchain');
    expect(toolchain?.base).toBe('node:20-bookworm-slim');
    expect(runs(toolchain)).toMatch(/apt-get install[^\n]*\bpython3\b[^\n]*\bmake\b[^\n]*\bg\+\+/);

    const build = byName.get('build');
    expect(build?.base).toBe('toolchain');
    expect(runs(build)).toMatch(/npm ci\b/);
    expect(runs(build)).toMatch(/npm run build/);
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toBeDefined();

    const prodDeps = byName.get('prod-deps');
    expect(prodDeps?.base).toBe('toolchain'); // better-sqlite3 compiles here, against the same Node
    expect(runs(prodDeps)).toMatch(/npm ci --omit=dev/);

    const runtime = stages.at(-1)!;
    expect(runtime.base).toBe('node:20-bookworm-slim');
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => copyParts(i.args));
    expect(copies).toContainEqual({ from: 'prod-deps', sources: ['/app/node_modules'], dest: './node_modules' });
    expect(copies).toContainEqual({ from: 'build', sources: ['/app/dist'], dest: './dist' });
    expect(copies.some((c) => c.from === 'build' && c.sources.some((s) => s.includes('node_modules')))).toBe(false);
    expect(runs(runtime)).not.toMatch(/\b(g\+\+|make|python3)\b/);

    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    const entrypoint = runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')?.args ?? '[]';
    expect(JSON.parse(entrypoint)).toEqual(expect.arrayContaining(['node', '/app/bin/wavefier']));
  });

  it('the build stage holds every file `npm run build` names (tsconfig, the bundle script), each let into the context', async () => {
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const named = (pkg.scripts.build ?? '').split(/[\s&|;]+/).filter((word) => /[./]/.test(word) && existsSync(join(repoRoot, word)));
    expect(named).toEqual(expect.arrayContaining(['tsconfig.build.json', 'scripts/bundle.js']));
    const build = parseDockerfile(dockerfile).stages.find((stage) => stage.name === 'build');
    const copied = (build?.instructions ?? [])
      .filter((i) => i.keyword === 'COPY')
      .map((i) => copyParts(i.args))
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources.map((source) => source.replace(/^\.\/|\/+$/g, '')));
    const admitted = admittedBy(dockerignore);
    const missing = named.filter((file) => !copied.some((source) => file === source || file.startsWith(`${source}/`)) || !admitted(file));
    expect(missing).toEqual([]);
  });

  it('the entry point reaches the compiled CLI the build produces', async () => {
    const bin = await readFile(join(repoRoot, 'bin', 'wavefier'), 'utf8');
    expect(bin).toContain("'../dist/cli/main.js'");
    const buildConfig = JSON.parse(await readFile(join(repoRoot, 'tsconfig.build.json'), 'utf8')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    expect(buildConfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(join(repoRoot, 'src', 'cli', 'main.ts'))).toBe(true);
  });
});

describe('.dockerignore', () => {
  it('keeps the context to sources and lockfile', () => {
    const admitted = admittedBy(dockerignore);
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.build.json', 'src/cli/main.ts', 'bin/wavefier']) {
      expect(admitted(path), path).toBe(true);
    }
    for (const path of ['node_modules/zod/package.json', 'dist/cli/main.js', '.git/HEAD', 'test/unit/common.test.ts', 'docker/config/rucio.cfg', 'rehearsals/x/upload.jsonl']) {
      expect(admitted(path), path).toBe(false);
    }
  });
});

describe('init scripts', () => {
  const shellScripts = [join(dockerDir, 'rucio-init', 'bootstrap.sh'), join(dockerDir, 'minio-init', 'setup.sh')];
  const pythonScripts = ['bootstrap_db.py', 'configure.py', 'pfn.py'].map((f) => join(dockerDir, 'rucio-init', f));
  // The rucio/rucio-server image runs Python 3.9 (AlmaLinux 9): parse with that grammar.
  const parse39 = 'import ast, sys\nfor f in sys.argv[1:]:\n    ast.parse(open(f).read(), f, feature_version=(3, 9))\n';

  it('are valid bash (and the MinIO one valid POSIX sh, as the mc image runs it)', async () => {
    for (const script of shellScripts) await expect(run('bash', ['-n', script])).resolves.toBeDefined();
    await expect(run('sh', ['-n', join(dockerDir, 'minio-init', 'setup.sh')])).resolves.toBeDefined();
  });

  it('the syntax checks fail on broken scripts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wavefier-docker-'));
    try {
      await writeFile(join(dir, 'broken.sh'), 'if true; then\n  echo missing fi\n');
      await expect(run('bash', ['-n', join(dir, 'broken.sh')])).rejects.toThrow();
      await writeFile(join(dir, 'new.py'), 'match x:\n    case 1:\n        pass\n');
      await expect(run('python3', ['-c', parse39, join(dir, 'new.py')])).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('pass shellcheck', async (context) => {
    const available = await run('shellcheck', ['--version']).then(
      () => true,
      () => false,
    );
    // shellcheck is a Debian package (scripts/setup installs it); without it this check is skipped.
    if (!available) context.skip();
    await expect(run('shellcheck', ['--shell=bash', shellScripts[0]!])).resolves.toBeDefined();
    await expect(run('shellcheck', ['--shell=sh', shellScripts[1]!])).resolves.toBeDefined();
  });

  it("write an alembic.ini that Python's logging accepts and that keeps the database URL verbatim", async () => {
    const bootstrap = await readFile(shellScripts[0]!, 'utf8');
    const writer = /<<'PY'\n([\s\S]*?)\nPY\n/.exec(bootstrap)?.[1];
    expect(writer).toBeDefined();
    const dir = await mkdtemp(join(tmpdir(), 'wavefier-docker-'));
    try {
      const ini = join(dir, 'alembic.ini');
      const url = 'postgresql+psycopg://rucio:p$w:rd@postgres:5432/rucio';
      await run('python3', ['-c', writer!, ini, '/usr/lib/rucio/db/sqla/migrate_repo'], {
        env: { ...process.env, RUCIO_CFG_DATABASE_DEFAULT: url },
      });
      // What alembic and rucio's migrate_repo/env.py do with it: read the options, fileConfig().
      const check =
        'import configparser, logging.config, sys\nlogging.config.fileConfig(sys.argv[1])\n' +
        "c = configparser.ConfigParser()\nc.read(sys.argv[1])\nprint(c.get('alembic', 'sqlalchemy.url'))\nprint(c.get('alembic', 'script_location'))\n";
      const { stdout } = await run('python3', ['-c', check, ini]);
      expect(stdout.trim().split('\n')).toEqual([url, '/usr/lib/rucio/db/sqla/migrate_repo']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('are valid Python 3.9 and find the files they load', async () => {
    await expect(run('python3', ['-c', parse39, ...pythonScripts])).resolves.toBeDefined();
    const bootstrap = await readFile(shellScripts[0]!, 'utf8');
    const referenced = [...bootstrap.matchAll(/"\$here\/([\w.-]+)"/g)].map((m) => m[1]!);
    expect(referenced.sort()).toEqual(['bootstrap_db.py', 'configure.py', 'rses.json']);
    for (const file of referenced) expect(existsSync(join(dockerDir, 'rucio-init', file)), file).toBe(true);
    const configure = await readFile(pythonScripts[1]!, 'utf8');
    expect(configure).toContain('from pfn import expected_pfn');
  });
});
