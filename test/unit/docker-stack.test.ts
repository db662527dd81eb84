import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../../src/common/errors.js';
import { lfn2pfn, loadRucioConfig, protocolsFor } from '../../src/rucio/index.js';
import { S3Store } from '../../src/rucio/stores.js';
import type { RseInfo } from '../../src/rucio/index.js';
import { rseProtocolSchema } from '../../src/rucio/rse.js';
import { repoRoot } from '../helpers/cli.js';

/*
 * The docker/ stack cannot be started here (no Docker engine), so these tests check everything
 * that decides whether `docker compose up` converges and whether wavefier then talks to it:
 * the compose file against the Compose specification schema, its internal references, the
 * credentials and ports shared by compose.yaml and the config files, wavefier's own loader on
 * those files, and the PFNs of the RSEs the init service registers.
 */

const run = promisify(execFile);
const dockerDir = join(repoRoot, 'docker');
const composePath = join(dockerDir, 'compose.yaml');
const hostCfg = join(dockerDir, 'config', 'rucio.cfg');
const stackDir = join(dockerDir, 'config', 'stack');
const rsesPath = join(dockerDir, 'rucio-init', 'rses.json');

// The parts of a compose file these tests read; the schema check covers the rest.
const healthcheckSchema = z.object({ test: z.union([z.string(), z.array(z.string())]) }).loose();
const serviceSchema = z
  .object({
    image: z.string().optional(),
    build: z.object({ context: z.string(), dockerfile: z.string() }).optional(),
    command: z.union([z.string(), z.array(z.string())]).optional(),
    entrypoint: z.union([z.string(), z.array(z.string())]).optional(),
    environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
    ports: z.array(z.string()).optional(),
    volumes: z.array(z.string()).optional(),
    depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
    healthcheck: healthcheckSchema.optional(),
    restart: z.string().optional(),
    profiles: z.array(z.string()).optional(),
    stop_grace_period: z.string().optional(),
  })
  .loose();
type Service = z.infer<typeof serviceSchema>;
const composeSchema = z.object({
  name: z.string(),
  services: z.record(z.string(), serviceSchema),
  volumes: z.record(z.string(), z.unknown()).optional(),
});

const rsesSchema = z.object({
  rses: z.array(
    z.object({
      name: z.string(),
      bucket: z.string(),
      settings: z.object({ deterministic: z.boolean() }).loose(),
      attributes: z.record(z.string(), z.union([z.string(), z.boolean(), z.number()])),
      protocols: z.array(z.record(z.string(), z.unknown())),
    }),
  ),
  distances: z.array(z.object({ source: z.string(), destination: z.string(), distance: z.number() })),
  scope: z.object({ name: z.string(), account: z.string() }),
  account_limit_bytes: z.number(),
});
type RseSpec = z.infer<typeof rsesSchema>['rses'][number];

// dclint's published typings use extension-less ESM imports that NodeNext cannot follow; this is
// the part of its documented API (DCLinter#lintFiles) the tests use.
interface LintResult {
  messages: { rule: string; message: string; line: number }[];
}
interface Linter {
  lintFiles(paths: string[], recursive: boolean): LintResult[];
}
interface LinterConfig {
  rules: Record<string, 0 | 1 | 2 | [0 | 1 | 2, Record<string, unknown>]>;
  quiet: boolean;
  debug: boolean;
  exclude: string[];
}
const { DCLinter } = createRequire(import.meta.url)('dclint') as { DCLinter: new (config: LinterConfig) => Linter };

let composeText: string;
let composeDoc: unknown;
let compose: z.infer<typeof composeSchema>;
let rses: z.infer<typeof rsesSchema>;

beforeAll(async () => {
  composeText = await readFile(composePath, 'utf8');
  composeDoc = parse(composeText, { merge: true });
  compose = composeSchema.parse(composeDoc);
  rses = rsesSchema.parse(JSON.parse(await readFile(rsesPath, 'utf8')));
});

function service(name: string): Service {
  const found = compose.services[name];
  if (found === undefined) throw new Error(`docker/compose.yaml has no service ${name}`);
  return found;
}

function env(name: string, key: string): string {
  const value = service(name).environment?.[key];
  if (typeof value !== 'string') throw new Error(`service ${name} has no environment ${key}`);
  return value;
}

/** `HOST_IP:HOST_PORT:CONTAINER_PORT` entries of a service, by container port. */
function published(name: string): Map<number, { ip: string; port: number }> {
  const ports = new Map<number, { ip: string; port: number }>();
  for (const entry of service(name).ports ?? []) {
    const match = /^(\d+\.\d+\.\d+\.\d+):(\d+):(\d+)$/.exec(entry);
    if (!match) throw new Error(`service ${name} publishes ${entry}, expected HOST_IP:HOST_PORT:CONTAINER_PORT`);
    ports.set(Number(match[3]), { ip: match[1]!, port: Number(match[2]) });
  }
  return ports;
}

async function composeSpecValidator(): Promise<Ajv['compile'] extends (s: never) => infer V ? V : never> {
  const require = createRequire(import.meta.url);
  const schemaPath = join(dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
  // Its `$schema` names draft-07 by an id Ajv does not register (no trailing '#'); Ajv's default
  // dialect is draft-07, so compile it without the declaration, as dclint does.
  const { $schema: _dialect, ...schema } = JSON.parse(await readFile(schemaPath, 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
  return ajv.compile(schema);
}

describe('docker/compose.yaml', () => {
  it('is valid under the Compose specification schema', async () => {
    const validate = await composeSpecValidator();
    const valid = validate(composeDoc);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('the schema check rejects what docker compose would reject', async () => {
    const validate = await composeSpecValidator();
    const broken = structuredClone(composeDoc) as { services: Record<string, Record<string, unknown>> };
    broken.services.rucio!.depends_on = { postgres: { condition: 'service_ready' } };
    expect(validate(broken)).toBe(false);
    const unknownKey = structuredClone(composeDoc) as { services: Record<string, Record<string, unknown>> };
    unknownKey.services.redis!.healthcheck_test = ['CMD', 'true'];
    expect(validate(unknownKey)).toBe(false);
  });

  it('passes dclint with docker/dclint.json (pinned tags, ports bound to an interface)', async () => {
    const config = JSON.parse(await readFile(join(dockerDir, 'dclint.json'), 'utf8')) as Pick<LinterConfig, 'rules'>;
    const linter = new DCLinter({ rules: config.rules, quiet: false, debug: false, exclude: [] });
    const [result] = linter.lintFiles([composePath], false);
    expect(result?.messages ?? ['no result']).toEqual([]);

    // The same linter flags a port published on every interface and an unpinned image.
    const dir = await mkdtemp(join(tmpdir(), 'wavefier-docker-'));
    try {
      const bad = join(dir, 'compose.yaml');
      await writeFile(bad, 'name: bad\nservices:\n  redis:\n    image: redis:latest\n    ports:\n      - "6379:6379"\n');
      const [badResult] = linter.lintFiles([bad], false);
      const rules = (badResult?.messages ?? []).map((m) => m.rule).sort();
      expect(rules).toEqual(['no-unbound-port-interfaces', 'service-image-require-explicit-tag']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('converges: every dependency exists, is waited for by a real condition, and there is no cycle', () => {
    const names = Object.keys(compose.services);
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [target, { condition }] of Object.entries(svc.depends_on ?? {})) {
        expect(names, `${name} depends on ${target}`).toContain(target);
        const dependency = service(target);
        if (condition === 'service_healthy') expect(dependency.healthcheck, `${target} needs a healthcheck`).toBeDefined();
        if (condition === 'service_completed_successfully') {
          expect(dependency.restart, `${target} is one-shot`).toBe('no');
          expect(dependency.profiles, `${target} must start with a plain 'up'`).toBeUndefined();
        }
      }
    }
    // Depth-first search for a cycle.
    const state = new Map<string, 'open' | 'done'>();
    const visit = (name: string, path: string[]): void => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'open') throw new Error(`dependency cycle: ${[...path, name].join(' -> ')}`);
      state.set(name, 'open');
      for (const target of Object.keys(service(name).depends_on ?? {})) visit(target, [...path, name]);
      state.set(name, 'done');
    };
    for (const name of names) visit(name, []);
    // The wavefier services wait for both one-shot initialisations.
    for (const name of ['upload-worker', 'downloader', 'wavefier']) {
      expect(service(name).stop_grace_period, `${name} drains on SIGTERM`).toBe('30s');
      expect(service(name).depends_on).toMatchObject({
        redis: { condition: 'service_healthy' },
        'minio-init': { condition: 'service_completed_successfully' },
        'rucio-init': { condition: 'service_completed_successfully' },
      });
    }
  });

  it('runs the official Rucio server at a pinned release, initialised by the same image', () => {
    expect(service('rucio').image).toMatch(/^rucio\/rucio-server:release-\d+\.\d+\.\d+$/);
    expect(service('rucio-init').image).toBe(service('rucio').image);
    expect(env('rucio', 'RUCIO_CFG_DATABASE_DEFAULT')).toBe(env('rucio-init', 'RUCIO_CFG_DATABASE_DEFAULT'));
    expect(env('rucio', 'RUCIO_CFG_POLICY_PERMISSION')).toBe('generic');
    for (const svc of Object.values(compose.services)) expect(svc.image ?? '').not.toMatch(/:latest$/);
  });

  it('keeps Redis data in an append-only file on a named volume', () => {
    const redis = service('redis');
    expect(redis.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    const policy = (redis.command as string[]).indexOf('--maxmemory-policy');
    expect((redis.command as string[])[policy + 1]).toBe('noeviction'); // BullMQ loses jobs otherwise
    const volume = (redis.volumes ?? []).find((v) => v.endsWith(':/data'));
    expect(volume).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(volume!.split(':')[0]);
  });

  it('mounts files and builds from paths that exist', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const volume of svc.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.')) expect(existsSync(resolve(dockerDir, source)), `${name} mounts ${source}`).toBe(true);
        else expect(Object.keys(compose.volumes ?? {}), `${name} uses volume ${source}`).toContain(source);
      }
      if (svc.build !== undefined) {
        const context = resolve(dockerDir, svc.build.context);
        expect(context).toBe(resolve(repoRoot));
        expect(existsSync(join(context, svc.build.dockerfile))).toBe(true);
      }
    }
    const entrypoint = (name: string): string => {
      const value = service(name).entrypoint;
      return Array.isArray(value) ? value.at(-1)! : (value ?? '');
    };
    expect(entrypoint('rucio-init')).toBe('/init/bootstrap.sh');
    expect(service('rucio-init').volumes).toContain('./rucio-init:/init:ro');
    expect(entrypoint('minio-init')).toBe('/init/setup.sh');
    expect(service('minio-init').volumes).toContain('./minio-init:/init:ro');
  });

  it('creates the buckets of the RSE protocols, with the credentials wavefier is given', async () => {
    const buckets = env('minio-init', 'WAVEFIER_BUCKETS').split(/\s+/).sort();
    expect(buckets).toEqual(rses.rses.map((r) => r.bucket).sort());
    for (const rse of rses.rses) {
      for (const protocol of rse.protocols) {
        expect(String(protocol.prefix).split('/').filter(Boolean)[0], `${rse.name} prefix`).toBe(rse.bucket);
      }
    }
    expect(env('minio-init', 'MINIO_ROOT_USER')).toBe(env('minio', 'MINIO_ROOT_USER'));
    expect(env('minio-init', 'MINIO_ROOT_PASSWORD')).toBe(env('minio', 'MINIO_ROOT_PASSWORD'));
    for (const file of [join(dockerDir, 'config', 'rse-accounts.cfg'), join(stackDir, 'rse-accounts.cfg')]) {
      const accounts = JSON.parse(await readFile(file, 'utf8')) as Record<string, { access_key: string; secret_key: string }>;
      expect(Object.keys(accounts).sort(), file).toEqual(rses.rses.map((r) => r.name).sort());
      for (const entry of Object.values(accounts)) {
        expect(entry.access_key).toBe(env('minio-init', 'WAVEFIER_S3_ACCESS_KEY'));
        expect(entry.secret_key).toBe(env('minio-init', 'WAVEFIER_S3_SECRET_KEY'));
      }
    }
  });

  it('bootstraps the root identity that both rucio.cfg files log in with, on the database postgres serves', async () => {
    for (const file of [hostCfg, join(stackDir, 'rucio.cfg')]) {
      const text = await readFile(file, 'utf8');
      expect(text, file).toContain(`username = ${env('rucio-init', 'RUCIO_CFG_BOOTSTRAP_USERPASS_IDENTITY')}\n`);
      expect(text, file).toContain(`password = ${env('rucio-init', 'RUCIO_CFG_BOOTSTRAP_USERPASS_PWD')}\n`);
    }
    expect(env('rucio-init', 'RUCIO_CFG_CLIENT_USERNAME')).toBe(env('rucio-init', 'RUCIO_CFG_BOOTSTRAP_USERPASS_IDENTITY'));
    expect(env('rucio-init', 'RUCIO_CFG_CLIENT_PASSWORD')).toBe(env('rucio-init', 'RUCIO_CFG_BOOTSTRAP_USERPASS_PWD'));
    const db = new URL(env('rucio', 'RUCIO_CFG_DATABASE_DEFAULT'));
    expect(db.protocol).toBe('postgresql+psycopg:');
    expect(db.hostname).toBe('postgres');
    expect(db.username).toBe(env('postgres', 'POSTGRES_USER'));
    expect(db.password).toBe(env('postgres', 'POSTGRES_PASSWORD'));
    expect(db.pathname).toBe(`/${env('postgres', 'POSTGRES_DB')}`);
    // The scope's owner is the non-root account the init service creates.
    expect(env('rucio-init', 'WAVEFIER_ACCOUNT')).toBe(rses.scope.account);
  });
});

describe("wavefier's configuration for the stack", () => {
  let home: string;

  beforeAll(async () => {
    // What the containers see: docker/config/stack mounted as /opt/rucio/etc.
    home = await mkdtemp(join(tmpdir(), 'wavefier-docker-home-'));
    await mkdir(home, { recursive: true });
    await symlink(stackDir, join(home, 'etc'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('from the host: RUCIO_CONFIG=docker/config/rucio.cfg reaches the published ports', async () => {
    const config = await loadRucioConfig({ env: { RUCIO_CONFIG: hostCfg } });
    const rucioPort = published('rucio').get(80);
    const minioPort = published('minio').get(9000);
    expect(rucioPort).toBeDefined();
    expect(minioPort).toBeDefined();
    expect(config).toMatchObject({
      rucioHost: `http://${rucioPort!.ip}:${rucioPort!.port}`,
      authHost: `http://${rucioPort!.ip}:${rucioPort!.port}`,
      authType: 'userpass',
      account: 'root',
      configFile: hostCfg,
    });
    expect(Object.keys(config.rseAccounts).sort()).toEqual(rses.rses.map((r) => r.name).sort());
    for (const creds of Object.values(config.rseAccounts)) {
      expect(creds).toMatchObject({ endpoint: `http://${minioPort!.ip}:${minioPort!.port}`, forcePathStyle: true, region: 'us-east-1' });
    }
    expect(`redis://${published('redis').get(6379)!.ip}:${published('redis').get(6379)!.port}`).toBe('redis://127.0.0.1:6379');
  });

  it('inside the stack: RUCIO_HOME=/opt/rucio with the mounted etc/ reaches the services by name', async () => {
    const config = await loadRucioConfig({ env: { RUCIO_HOME: home } });
    expect(config).toMatchObject({ rucioHost: 'http://rucio', authHost: 'http://rucio', authType: 'userpass', account: 'root' });
    expect(new URL(config.rucioHost).hostname in compose.services).toBe(true);
    for (const creds of Object.values(config.rseAccounts)) expect(creds.endpoint).toBeUndefined();
    // The containers set RUCIO_CONFIG to the same file.
    expect(service('upload-worker').environment?.RUCIO_CONFIG).toBe('/opt/rucio/etc/rucio.cfg');
    expect(service('upload-worker').volumes).toContain('./config/stack:/opt/rucio/etc:ro');
  });

  it('S3 credentials may come from the environment instead, as in the wavefier containers', async () => {
    // A directory with rucio.cfg only: no rse-accounts.cfg, so the AWS_* variables apply to every RSE.
    const dir = await mkdtemp(join(tmpdir(), 'wavefier-docker-env-'));
    try {
      await writeFile(join(dir, 'rucio.cfg'), await readFile(hostCfg, 'utf8'));
      const minio = published('minio').get(9000)!;
      const config = await loadRucioConfig({
        env: {
          RUCIO_CONFIG: join(dir, 'rucio.cfg'),
          AWS_ACCESS_KEY_ID: env('upload-worker', 'AWS_ACCESS_KEY_ID'),
          AWS_SECRET_ACCESS_KEY: env('upload-worker', 'AWS_SECRET_ACCESS_KEY'),
          AWS_REGION: env('upload-worker', 'AWS_REGION'),
          AWS_ENDPOINT_URL_S3: `http://${minio.ip}:${minio.port}`,
        },
      });
      expect(config.rseAccounts).toEqual({});
      expect(config.s3).toEqual({
        accessKeyId: env('minio-init', 'WAVEFIER_S3_ACCESS_KEY'),
        secretAccessKey: env('minio-init', 'WAVEFIER_S3_SECRET_KEY'),
        region: 'us-east-1',
        endpoint: 'http://127.0.0.1:9000',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('flags and RUCIO_* variables still override the stack files', async () => {
    const config = await loadRucioConfig({
      env: { RUCIO_CONFIG: hostCfg, RUCIO_ACCOUNT: 'wavefier' },
      flags: { rucioHost: 'http://rucio.example.org:8080' },
    });
    expect(config.account).toBe('wavefier');
    expect(config.rucioHost).toBe('http://rucio.example.org:8080');
    await expect(loadRucioConfig({ env: { RUCIO_CONFIG: join(dockerDir, 'config', 'missing.cfg') } })).rejects.toBeInstanceOf(
      ConfigError,
    );
  });

  describe('the RSEs rucio-init registers', () => {
    const names = ['V-V1_WAVEFIER-1400000000-1.hdf5', 'H-H1_GWOSC_4KHZ_R1-1126259447-1.hdf5'];

    function rseInfo(rse: RseSpec): RseInfo {
      return {
        name: rse.name,
        deterministic: rse.settings.deterministic,
        lfn2pfnAlgorithm: String(rse.attributes.lfn2pfn_algorithm ?? 'hash'),
        availabilityWrite: true,
        availabilityRead: true,
        verifyChecksum: false,
        // What GET /rses/{rse} returns for them, through wavefier's own boundary schema.
        protocols: rse.protocols.map((p) => rseProtocolSchema.parse(p)),
        attributes: rse.attributes,
      };
    }

    it('give the PFNs wavefier computes, inside the bucket MinIO serves', () => {
      // One worked example, computed independently: md5("wavefier:V-V1_WAVEFIER-1400000000-1.hdf5").
      const ego = rseInfo(rses.rses.find((r) => r.name === 'EGO_SCRATCHDISK')!);
      const egoWrite = protocolsFor(ego, 'write')[0]!;
      expect(lfn2pfn('wavefier', names[0]!, egoWrite, ego.lfn2pfnAlgorithm)).toBe(
        's3://minio:9000/ego-scratchdisk/wavefier/a6/f7/V-V1_WAVEFIER-1400000000-1.hdf5',
      );
      for (const rse of rses.rses) {
        const info = rseInfo(rse);
        expect(rse.name).toMatch(/SCRATCHDISK$/); // generic policy: non-admin accounts may add replicas
        for (const operation of ['write', 'read', 'delete'] as const) {
          const [protocol] = protocolsFor(info, operation);
          expect(protocol?.scheme, `${rse.name} ${operation}`).toBe('s3');
        }
        const protocol = protocolsFor(info, 'write')[0]!;
        expect(protocol.extended_attributes).toMatchObject({ endpoint_scheme: 'http', path_style: true });
        // The endpoint wavefier derives (no endpoint override in the stack's rse-accounts.cfg).
        const endpoint = `${String(protocol.extended_attributes?.endpoint_scheme)}://${protocol.hostname}:${protocol.port}`;
        expect(endpoint).toBe('http://minio:9000');
        expect(protocol.hostname in compose.services).toBe(true);
        for (const name of names) {
          const pfn = lfn2pfn(rses.scope.name, name, protocol, info.lfn2pfnAlgorithm);
          const { bucket, key } = S3Store.locate(pfn);
          expect(bucket).toBe(rse.bucket);
          expect(key).toMatch(new RegExp(`^${rses.scope.name}/[0-9a-f]{2}/[0-9a-f]{2}/${name.replaceAll('.', '\\.')}$`));
        }
      }
    });

    it('agree with the PFN check rucio-init runs against the server (docker/rucio-init/pfn.py)', async () => {
      const cases = rses.rses.flatMap((rse) =>
        [rses.scope.name, 'user.root'].flatMap((scope) => names.map((name) => ({ protocol: rse.protocols[0], scope, name }))),
      );
      // One interpreter for every case: import pfn.py as rucio-init's configure.py does.
      const program =
        'import json, sys\nsys.path.insert(0, sys.argv[1])\nfrom pfn import expected_pfn\n' +
        'for c in json.loads(sys.argv[2]):\n    print(expected_pfn(c["protocol"], c["scope"], c["name"]))\n';
      const { stdout } = await run('python3', ['-c', program, join(dockerDir, 'rucio-init'), JSON.stringify(cases)], {
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      });
      const expected = cases.map((c) => lfn2pfn(c.scope, c.name, rseProtocolSchema.parse(c.protocol)));
      expect(stdout.trim().split('\n')).toEqual(expected);
      expect(expected.filter((pfn) => pfn.includes('/user/root/'))).toHaveLength(rses.rses.length * names.length);
    });

    it('are tied by distances both ways (the replicated chain EGO -> CNAF)', () => {
      const pairs = rses.distances.map((d) => `${d.source}>${d.destination}`).sort();
      expect(pairs).toEqual(['CNAF_SCRATCHDISK>EGO_SCRATCHDISK', 'EGO_SCRATCHDISK>CNAF_SCRATCHDISK']);
    });
  });
});
