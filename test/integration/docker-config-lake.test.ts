import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { startLake, type Lake } from '../../src/lake/index.js';
import {
  RucioClient,
  downloadFile,
  lfn2path,
  loadRucioConfig,
  uploadFile,
  type RucioSettings,
  type ReplicaRecord,
} from '../../src/rucio/index.js';
import { repoRoot } from '../helpers/cli.js';

/*
 * The stack's own files, driven through wavefier's real client against a Rucio-compatible server
 * and a real S3 server (the embedded lake), since no Docker engine runs here: the lake is given
 * the stack's accounts, identities, scope, RSEs (names, prefixes, attributes from
 * docker/rucio-init/rses.json) and S3 keys, and the only things changed in docker/config/ are the
 * addresses (the lake's ephemeral ports instead of 8080/9000).
 */

const dockerDir = join(repoRoot, 'docker');
const initEnv = z.record(z.string(), z.string());
const rsesSchema = z.object({
  rses: z.array(z.object({ name: z.string(), attributes: z.record(z.string(), z.union([z.string(), z.boolean(), z.number()])), protocols: z.array(z.object({ prefix: z.string() })) })),
  scope: z.object({ name: z.string(), account: z.string() }),
});
const accountsSchema = z.record(z.string(), z.object({ access_key: z.string(), secret_key: z.string(), endpoint: z.string().optional() }).loose());

let dir: string;
let lake: Lake;
let configPath: string;
let env: Record<string, string>;
let rses: z.infer<typeof rsesSchema>;
const clients: RucioClient[] = [];
const run = `docker${Date.now().toString(36)}`;

async function client(flags: Partial<RucioSettings> = {}): Promise<RucioClient> {
  const config = await loadRucioConfig({
    env: { RUCIO_CONFIG: configPath, RUCIO_HOST: lake.settings.rucioHost, RUCIO_AUTH_HOST: lake.settings.authHost },
    flags: { tokenCacheDir: join(dir, 'tokens'), ...flags },
  });
  const made = new RucioClient(config, { retry: { baseDelayMs: 5, maxDelayMs: 20 } });
  clients.push(made);
  return made;
}

async function roundTrip(c: RucioClient, rse: string, scope: string): Promise<{ pfn: string; replica: ReplicaRecord }> {
  const dataset = { scope, name: `${run}-${rse.toLowerCase()}` };
  await c.addDataset(dataset.scope, dataset.name);
  const name = `V-V1_WAVEFIER_DOCKER-${1_400_000_000 + clients.length}-1.hdf5`;
  const bytes = randomBytes(4096);
  const uploaded = await uploadFile(c, { scope, name, bytes, dataset, rse });
  const replicas: ReplicaRecord[] = [];
  for await (const r of c.listReplicas({ dids: [{ scope, name }] })) replicas.push(r);
  expect(replicas).toHaveLength(1);
  const downloaded = await downloadFile(c, replicas[0]!, { destDir: join(dir, 'down', rse) });
  expect((await readFile(downloaded.path)).equals(bytes)).toBe(true);
  return { pfn: uploaded.pfn, replica: replicas[0]! };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wavefier-docker-lake-'));
  const compose = parse(await readFile(join(dockerDir, 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: unknown }>;
  };
  env = initEnv.parse(compose.services['rucio-init']?.environment);
  rses = rsesSchema.parse(JSON.parse(await readFile(join(dockerDir, 'rucio-init', 'rses.json'), 'utf8')));
  const hostAccounts = accountsSchema.parse(JSON.parse(await readFile(join(dockerDir, 'config', 'rse-accounts.cfg'), 'utf8')));
  const s3 = Object.values(hostAccounts)[0]!;

  // The lake keeps its S3 keys in its directory: give it the ones minio-init creates.
  const lakeDir = join(dir, 'lake');
  await mkdir(lakeDir, { recursive: true });
  await writeFile(join(lakeDir, 's3-access-key'), `${s3.access_key}\n`, { mode: 0o600 });
  await writeFile(join(lakeDir, 's3-secret-key'), `${s3.secret_key}\n`, { mode: 0o600 });
  lake = await startLake({
    dir: lakeDir,
    quiet: true,
    accounts: [
      {
        account: 'root',
        type: 'SERVICE',
        identities: [{ username: env.RUCIO_CFG_BOOTSTRAP_USERPASS_IDENTITY!, password: env.RUCIO_CFG_BOOTSTRAP_USERPASS_PWD! }],
      },
      {
        account: env.WAVEFIER_ACCOUNT!,
        type: 'USER',
        identities: [{ username: env.WAVEFIER_ACCOUNT_USERNAME!, password: env.WAVEFIER_ACCOUNT_PASSWORD! }],
        scopes: [rses.scope.name],
      },
    ],
    // The lake insists on its default RSE; the stack's RSEs come next to it.
    rses: [
      { name: 'LAKE_S3', kind: 's3' as const, prefix: '/wavefier-lake/' },
      ...rses.rses.map((r) => ({ name: r.name, kind: 's3' as const, scheme: 's3' as const, prefix: r.protocols[0]!.prefix, attributes: r.attributes })),
    ],
  });

  // docker/config/ with the lake's addresses in place of the published ports.
  const config = join(dir, 'config');
  await mkdir(config);
  configPath = join(config, 'rucio.cfg');
  await copyFile(join(dockerDir, 'config', 'rucio.cfg'), configPath);
  const moved = Object.fromEntries(Object.entries(hostAccounts).map(([rse, a]) => [rse, { ...a, endpoint: lake.settings.s3.endpoint }]));
  await writeFile(join(config, 'rse-accounts.cfg'), JSON.stringify(moved));
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await lake.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the stack's client configuration against a Rucio-compatible server", () => {
  it('root (docker/config/rucio.cfg as shipped) uploads, lists and downloads a chunk on EGO_SCRATCHDISK', async () => {
    const root = await client();
    expect((await root.whoami()).account).toBe('root');
    const { pfn, replica } = await roundTrip(root, 'EGO_SCRATCHDISK', rses.scope.name);
    const lakeRse = lake.settings.rses.find((r) => r.name === 'EGO_SCRATCHDISK')!;
    expect(pfn).toBe(`${lakeRse.pfnPrefix}${lfn2path(rses.scope.name, replica.name)}`);
    expect(pfn).toContain('/ego-scratchdisk/wavefier/');
    expect(replica.states.EGO_SCRATCHDISK).toBe('AVAILABLE');
  });

  it('the non-root account rucio-init creates writes to CNAF_SCRATCHDISK in the scope it owns', async () => {
    const user = await client({
      account: env.WAVEFIER_ACCOUNT!,
      username: env.WAVEFIER_ACCOUNT_USERNAME!,
      password: env.WAVEFIER_ACCOUNT_PASSWORD!,
    });
    expect((await user.whoami()).account).toBe(rses.scope.account);
    const { pfn } = await roundTrip(user, 'CNAF_SCRATCHDISK', rses.scope.name);
    expect(pfn).toContain('/cnaf-scratchdisk/wavefier/');
  });

  it('S3 keys other than the ones minio-init creates are refused, and the error points at rse-accounts.cfg', async () => {
    const accounts = accountsSchema.parse(JSON.parse(await readFile(join(dirname(configPath), 'rse-accounts.cfg'), 'utf8')));
    const cases = [
      { change: { access_key: 'NOT-THE-STACK-KEY' }, error: /InvalidAccessKeyId.*rse-accounts\.cfg/ },
      { change: { secret_key: 'not-the-stack-secret' }, error: /SignatureDoesNotMatch.*rse-accounts\.cfg/ },
    ];
    for (const [index, { change, error }] of cases.entries()) {
      const other = join(dir, `other-${index}`);
      await mkdir(other, { recursive: true });
      await copyFile(configPath, join(other, 'rucio.cfg'));
      const wrong = Object.fromEntries(Object.entries(accounts).map(([rse, a]) => [rse, { ...a, ...change }]));
      await writeFile(join(other, 'rse-accounts.cfg'), JSON.stringify(wrong));
      const config = await loadRucioConfig({
        env: { RUCIO_CONFIG: join(other, 'rucio.cfg'), RUCIO_HOST: lake.settings.rucioHost, RUCIO_AUTH_HOST: lake.settings.authHost },
        flags: { tokenCacheDir: join(dir, 'tokens') },
      });
      const c = new RucioClient(config, { retry: { baseDelayMs: 5, maxDelayMs: 20 } });
      clients.push(c);
      const dataset = { scope: rses.scope.name, name: `${run}-wrong-keys-${index}` };
      await c.addDataset(dataset.scope, dataset.name);
      const name = `V-V1_WAVEFIER_DOCKER-${1_399_999_990 + index}-1.hdf5`;
      await expect(uploadFile(c, { scope: dataset.scope, name, bytes: randomBytes(64), dataset, rse: 'EGO_SCRATCHDISK' })).rejects.toThrow(error);
    }
  });

  it('the RSEs keep the attributes rses.json gives them', async () => {
    const root = await client();
    for (const rse of rses.rses) {
      const info = await root.rse(rse.name);
      expect(info.attributes).toMatchObject(rse.attributes);
      expect(info.lfn2pfnAlgorithm).toBe('hash');
    }
  });
});
