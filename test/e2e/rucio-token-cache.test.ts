import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLake, type Lake } from '../../src/lake/index.js';
import { repoRoot } from '../helpers/cli.js';

const run = promisify(execFile);
let dir: string;
let lake: Lake;

// A separate Node process using the built library, as a worker process would.
const childScript = `
import { RucioClient, loadRucioConfig } from ${JSON.stringify(join(repoRoot, 'dist/rucio/index.js'))};
const client = new RucioClient(await loadRucioConfig({ flags: { tokenCacheDir: process.env.CACHE_DIR } }));
const who = await client.whoami();
process.stdout.write(JSON.stringify({ account: who.account, logins: client.stats.byEndpoint['GET /auth/userpass'] ?? 0 }));
await client.close();
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rucio-token-e2e-'));
  lake = await startLake({ dir: join(dir, 'lake'), quiet: true });
});

afterAll(async () => {
  await lake.close();
  await rm(dir, { recursive: true, force: true });
});

describe('token cache across processes', () => {
  it('logs in once; later processes reuse the cached token', async () => {
    const env = { ...process.env, RUCIO_HOME: lake.settings.rucioHome, RUCIO_CONFIG: '', CACHE_DIR: join(dir, 'cache') };
    const outputs: { account: string; logins: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', childScript], { env });
      outputs.push(JSON.parse(stdout) as { account: string; logins: number });
    }
    expect(outputs).toEqual([
      { account: 'root', logins: 1 },
      { account: 'root', logins: 0 },
      { account: 'root', logins: 0 },
    ]);
  });
});
