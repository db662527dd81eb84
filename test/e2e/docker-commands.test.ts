import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { repoRoot, runCli } from '../helpers/cli.js';

/*
 * The commands docker/compose.yaml (and the README's 4-hour recipe) give the built CLI must parse:
 * a renamed or removed flag would only show when the stack runs. Each one is run for real with the
 * stack's host configuration and an unreachable Redis, so it gets past argument parsing and
 * configuration and stops at the first connection (exit 1), where a usage error would exit 2.
 */

const unreachableRedis = 'redis://127.0.0.1:1';
let dir: string;
let commands: Record<string, string[]>;

function interpolate(arg: string): string {
  // Compose's ${VAR:-default}, with the defaults (the variables are unset in CI).
  return arg.replace(/\$\{(\w+):-([^}]*)\}/g, (_, _name: string, fallback: string) => fallback);
}

function localised(args: readonly string[]): string[] {
  return args.map((a) => interpolate(a).replace('redis://redis:6379', unreachableRedis).replace(/^\/data\//, `${dir}/`));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wavefier-docker-cmd-'));
  const compose = z
    .object({ services: z.record(z.string(), z.object({ command: z.array(z.string()).optional() }).loose()) })
    .parse(parse(await readFile(join(repoRoot, 'docker', 'compose.yaml'), 'utf8'), { merge: true }));
  commands = Object.fromEntries(
    Object.entries(compose.services).flatMap(([name, s]) => (s.command === undefined || name === 'redis' || name === 'minio' ? [] : [[name, s.command]])),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the wavefier commands of the docker stack', () => {
  const env = { RUCIO_CONFIG: join(repoRoot, 'docker', 'config', 'rucio.cfg') };

  it('covers the upload-worker and the downloader', () => {
    expect(Object.keys(commands).sort()).toEqual(['downloader', 'upload-worker']);
  });

  it("upload-worker, downloader and the README's 4-hour producer are accepted and go on to connect", async () => {
    // docker compose run ... wavefier upload ... in "A 4-hour rehearsal".
    const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
    const lines = readme.split('\n');
    const start = lines.findIndex((l) => l.includes('--name wavefier-producer wavefier \\'));
    expect(start).toBeGreaterThan(0);
    const continued: string[] = [];
    for (const l of lines.slice(start + 1)) {
      continued.push(l.replace(/\\$/, ''));
      if (!l.endsWith('\\')) break;
    }
    const producer = continued.join(' ').replaceAll('"$WAVEFIER_RUN"', '20261126T163000Z-abcd').split(/\s+/).filter(Boolean);
    expect(producer.slice(0, 3)).toEqual(['upload', '--source', 'synthetic']);

    // Concurrently: each waits for its Redis connection attempts to give up.
    const runs = { 'upload-worker': commands['upload-worker']!, downloader: commands.downloader!, producer };
    const results = await Promise.all(
      Object.entries(runs).map(async ([name, args]) => ({ name, result: await runCli(localised(args), { env, cwd: dir, timeoutMs: 30_000 }) })),
    );
    for (const { name, result } of results) {
      expect(result.stderr, name).not.toMatch(/unknown option|missing required|error: option/i);
      expect(result.stderr, name).toContain(`cannot reach Redis at ${unreachableRedis}`);
      expect(result.code, name).toBe(1);
    }
  });

  it('a flag the CLI does not know is a usage error (exit 2), so the checks above can fail', async () => {
    const result = await runCli([...localised(commands['upload-worker']!), '--no-such-flag'], { env, cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown option '--no-such-flag'/);
  });
});
