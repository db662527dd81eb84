import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../helpers/cli.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';

let lake: TestLake;
beforeAll(async () => {
  lake = await startTestLake();
});
afterAll(async () => {
  await lake.dispose();
});

const warning = /--insecure: TLS certificates of the Rucio servers and of storage are not verified/g;

describe('--insecure is never silent (issue 15)', () => {
  it('warns exactly once on stderr for a process that runs with it, and not at all without it', async () => {
    const env = { RUCIO_HOME: lake.settings.rucioHome };
    const insecure = await runCli(['doctor', '--insecure'], { env });
    expect(insecure.stderr.match(warning)).toHaveLength(1);
    const plain = await runCli(['doctor'], { env });
    expect(plain.stderr).not.toMatch(warning);
  });

  it('the README no longer claims that verification is always on, and says what --insecure does', async () => {
    const readme = await readFile(`${repoRoot}README.md`, 'utf8');
    expect(readme).not.toContain('TLS verification is always on');
    expect(readme).toMatch(/unless `--insecure` is given: then nothing is verified/);
  });
});
