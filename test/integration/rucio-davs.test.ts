import { execFile } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import {
  lfn2pfn,
  loadRucioConfig,
  StorageAccessError,
  StorageCredentials,
  StorageRegistry,
  TlsConnections,
  type RseInfo,
  type RseLookup,
} from '../../src/rucio/index.js';
import { DavStore } from '../../src/rucio/stores.js';
import { startDavs, type DavsServer } from '../helpers/davs.js';

/**
 * The davs storage protocol end to end against a real Apache httpd (mod_dav, mod_ssl): the
 * credentials found the way a user's environment gives them (X509_USER_PROXY, RUCIO_CLIENT_CERT,
 * BEARER_TOKEN_FILE, $XDG_RUNTIME_DIR/bt_u<uid>, X509_CERT_DIR), through the storage registry as
 * uploads and downloads use it, and every refusal a user can meet, with its typed error and message.
 */

const exec = promisify(execFile);
let davs: DavsServer;
let stockApache: DavsServer;
let work: string;
const scope = 'user.root';

beforeAll(async () => {
  [davs, stockApache] = await Promise.all([startDavs(), startDavs({ proxyCerts: false })]);
  work = join(davs.dir, 'work');
  await mkdir(work, { recursive: true });
  await writeFile(join(work, 'rucio.cfg'), '[client]\nrucio_host = http://127.0.0.1:9\naccount = root\nauth_type = userpass\nusername = u\npassword = p\n');
});

afterAll(async () => {
  await Promise.all([davs.stop(), stockApache.stop()]);
});

function port(url: string): number {
  return Number(new URL(url).port);
}

/** Davs RSEs on the test Apache as a Rucio server describes them (`rucio-admin rse add-protocol --scheme davs ...`). */
function davsRse(name: string, url: string, prefix: string): RseInfo {
  return {
    name,
    deterministic: true,
    lfn2pfnAlgorithm: 'hash',
    availabilityWrite: true,
    availabilityRead: true,
    verifyChecksum: false,
    attributes: { [name]: true, lfn2pfn_algorithm: 'hash', verify_checksum: false },
    protocols: [
      {
        scheme: 'davs',
        hostname: '127.0.0.1',
        port: port(url),
        prefix,
        impl: 'rucio.rse.protocols.gfal.Default',
        domains: { wan: { read: 1, write: 1, delete: 1 }, lan: { read: 1, write: 1, delete: 1 } },
        extended_attributes: null,
      },
    ],
  };
}

function rses(server: DavsServer): RseLookup {
  const table = new Map(
    [
      davsRse('APACHE_DAV', server.info.base_url, '/dav/wavefier/'),
      davsRse('APACHE_STRICT', server.info.strict_url, '/dav/strict/'),
      davsRse('APACHE_TOKEN', server.info.base_url, '/token/wavefier/'),
    ].map((rse) => [rse.name, rse]),
  );
  return {
    rse: (name) => Promise.resolve(table.get(name) ?? Promise.reject(new Error(`no RSE ${name}`))),
    lfns2pfns: () => Promise.reject(new Error('deterministic RSEs: PFNs are computed locally')),
  };
}

interface Client {
  registry: StorageRegistry;
  close(): Promise<void>;
}

/** A storage registry configured as `wavefier upload` would be, from `env` (and flags) alone. */
async function clientFor(env: NodeJS.ProcessEnv, flags: Record<string, string> = {}, server = davs): Promise<Client> {
  const fullEnv = { RUCIO_CONFIG: join(work, 'rucio.cfg'), ...env };
  const config = await loadRucioConfig({ env: fullEnv, flags });
  const connections = new TlsConnections(config);
  const registry = new StorageRegistry({
    rses: rses(server),
    signUrl: () => Promise.reject(new Error('no signed URLs here')),
    connections,
    settings: config,
    credentials: new StorageCredentials(config, fullEnv),
  });
  return {
    registry,
    async close() {
      await registry.close();
      await connections.close();
    },
  };
}

function trusting(server = davs): NodeJS.ProcessEnv {
  return { X509_CERT_DIR: server.info.ca_dir };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error('expected a failure, got success');
  return error;
}

/** The StorageAccessError `promise` rejects with (fails the test on anything else). */
async function refusal(promise: Promise<unknown>): Promise<StorageAccessError> {
  const error = await failure(promise);
  expect(error).toBeInstanceOf(StorageAccessError);
  if (!(error instanceof StorageAccessError)) throw error;
  return error;
}

describe('davs storage with the credentials of the environment', () => {
  it('an RFC 3820 proxy from X509_USER_PROXY, CAs from X509_CERT_DIR: PUT (creating collections), GET, PROPFIND, DELETE, nothing left', async () => {
    const client = await clientFor({ ...trusting(), X509_USER_PROXY: davs.info.proxy });
    try {
      const name = `H-H1_GWOSC_4KHZ_R1-${1126259462 + Math.floor(Math.random() * 1000)}-1.hdf5`;
      const target = await client.registry.writeTarget('APACHE_DAV', scope, name);
      const protocol = davsRse('APACHE_DAV', davs.info.base_url, '/dav/wavefier/').protocols[0]!;
      expect(target.pfn).toBe(lfn2pfn(scope, name, protocol));
      expect(target.pfn).toMatch(new RegExp(`^davs://127\\.0\\.0\\.1:${port(davs.info.base_url)}/dav/wavefier/user/root/[0-9a-f]{2}/[0-9a-f]{2}/${name}$`));
      expect(target.store.presented).toBe(`X.509 proxy ${davs.info.proxy} (env X509_USER_PROXY)`);
      const bytes = randomBytes(50_000);
      await target.store.put(target.pfn, bytes, { ifAbsent: true });
      // On the server's disk, where the PFN says.
      const onDisk = join(davs.info.root.dav, new URL(target.pfn).pathname.replace(/^\/dav\//, ''));
      expect((await readFile(onDisk)).equals(bytes)).toBe(true);
      expect(Buffer.from(await target.store.get(target.pfn)).equals(bytes)).toBe(true);
      expect(await target.store.stat(target.pfn)).toEqual({ bytes: 50_000 });
      await target.store.delete(target.pfn);
      expect(await target.store.stat(target.pfn)).toBeUndefined();
      await target.store.removeEmptyParents?.(target.pfn);
      expect(await readdir(join(davs.info.root.dav, 'wavefier'))).not.toContain('user');
      // Apache's access log shows the proxy's subject: the proxy was what was presented.
      expect(await readFile(join(davs.info.dir, 'logs', 'access.log'), 'utf8')).toMatch(/CN=\d+,CN=davs tester/);
    } finally {
      await client.close();
    }
  });

  it("a stat (PROPFIND, the download warm-up's probe) leaves its connection for the next read", async () => {
    const client = await clientFor({ ...trusting(), X509_USER_PROXY: davs.info.proxy });
    let connected = 0;
    const onConnected = (message: unknown): void => {
      if ((message as { connectParams: { port: string } }).connectParams.port === String(port(davs.info.base_url))) connected++;
    };
    subscribe('undici:client:connected', onConnected);
    try {
      const target = await client.registry.writeTarget('APACHE_DAV', scope, `stat-then-get-${randomBytes(4).toString('hex')}.bin`);
      await target.store.put(target.pfn, Buffer.from('read after a stat'));
      expect(await target.store.stat(`${target.pfn}.missing`)).toBeUndefined();
      const afterStat = connected;
      await new Promise((resolve) => setImmediate(resolve));
      expect(Buffer.from(await target.store.get(target.pfn)).toString()).toBe('read after a stat');
      // The warm-up's probe is worth its request only if the first read finds the connection open.
      expect(connected).toBe(afterStat);
      await target.store.delete(target.pfn);
      await target.store.removeEmptyParents?.(target.pfn);
    } finally {
      unsubscribe('undici:client:connected', onConnected);
      await client.close();
    }
  });

  it('the x509 auth type presents client_cert/client_key (RUCIO_CLIENT_CERT/KEY), also where the handshake requires it', async () => {
    const client = await clientFor({
      ...trusting(),
      RUCIO_AUTH_TYPE: 'x509',
      RUCIO_CLIENT_CERT: davs.info.client_cert,
      RUCIO_CLIENT_KEY: davs.info.client_key,
      X509_USER_PROXY: davs.info.proxy,
    });
    try {
      const target = await client.registry.writeTarget('APACHE_STRICT', scope, 'strict-cert.bin');
      expect(target.store.presented).toBe(`X.509 certificate ${davs.info.client_cert} (env RUCIO_CLIENT_CERT)`);
      await target.store.put(target.pfn, Buffer.from('over the strict port'));
      expect(Buffer.from(await target.store.get(target.pfn)).toString()).toBe('over the strict port');
    } finally {
      await client.close();
    }
  });

  it('a bearer token from BEARER_TOKEN_FILE, from $XDG_RUNTIME_DIR/bt_u<uid>, and from the --bearer-token-file flag', async () => {
    const xdg = join(work, 'xdg');
    await mkdir(xdg, { recursive: true });
    await writeFile(join(xdg, `bt_u${process.getuid?.() ?? 0}`), `${await davs.token()}\n`, { mode: 0o600 });
    const cases: [NodeJS.ProcessEnv, Record<string, string>, string][] = [
      [{ BEARER_TOKEN_FILE: davs.info.token_file }, {}, `bearer token ${davs.info.token_file} (env BEARER_TOKEN_FILE)`],
      [{ XDG_RUNTIME_DIR: xdg }, {}, `bearer token ${join(xdg, `bt_u${process.getuid?.() ?? 0}`)} (WLCG token discovery)`],
      [{ BEARER_TOKEN_FILE: join(work, 'not-there') }, { tokenFile: davs.info.token_file }, `bearer token ${davs.info.token_file} (flag tokenFile)`],
    ];
    for (const [env, flags, presented] of cases) {
      const client = await clientFor({ ...trusting(), ...env }, flags);
      try {
        const target = await client.registry.writeTarget('APACHE_TOKEN', scope, `token-${randomBytes(4).toString('hex')}.bin`);
        expect(target.store.presented).toBe(presented);
        await target.store.put(target.pfn, Buffer.from('with a token'));
        expect(Buffer.from(await target.store.get(target.pfn)).toString()).toBe('with a token');
        await target.store.delete(target.pfn);
      } finally {
        await client.close();
      }
    }
  });

  it('a token renewed in its file after a 401 is read again and the request repeated', async () => {
    const file = join(work, 'renewed-token');
    await writeFile(file, 'stale-token\n', { mode: 0o600 });
    const client = await clientFor({ ...trusting(), BEARER_TOKEN_FILE: file });
    try {
      const target = await client.registry.writeTarget('APACHE_TOKEN', scope, 'renewed.bin');
      const refused = await failure(target.store.put(target.pfn, Buffer.from('x')));
      expect(refused).toBeInstanceOf(StorageAccessError);
      await writeFile(file, `${await davs.token()}\n`);
      await target.store.put(target.pfn, Buffer.from('after renewal'));
      expect(Buffer.from(await target.store.get(target.pfn)).toString()).toBe('after renewal');
    } finally {
      await client.close();
    }
  });
});

describe('davs refusals: the typed error says which credential and why', () => {
  it('no certificate where /dav/ wants one: 403 naming that nothing was presented', async () => {
    const client = await clientFor(trusting());
    try {
      const target = await client.registry.writeTarget('APACHE_DAV', scope, 'no-cert.bin');
      const error = await refusal(target.store.put(target.pfn, Buffer.from('x')));
      expect(error.status).toBe(403);
      expect(error.message).toMatch(/HTTP 403 Forbidden: nothing was presented: grid storage wants an X\.509 proxy/);
      expect(existsSync(join(davs.info.root.dav, 'wavefier', 'user', 'root'))).toBe(false);
    } finally {
      await client.close();
    }
  });

  it('no certificate where the TLS handshake requires one: the alert, not "other side closed"', async () => {
    const client = await clientFor(trusting());
    try {
      const target = await client.registry.writeTarget('APACHE_STRICT', scope, 'no-cert-strict.bin');
      const error = await failure(target.store.get(target.pfn));
      expect(error).toBeInstanceOf(StorageAccessError);
      expect(error.message).toMatch(/TLS handshake refused: the storage requires a client certificate .*certificate required.*no client certificate was presented/);
    } finally {
      await client.close();
    }
  });

  it('an expired proxy (made with openssl): refused before connecting, naming the file, its source and the cure; the server refuses it too', async () => {
    const expired = await expiredProxy(davs);
    const client = await clientFor({ ...trusting(), X509_USER_PROXY: expired });
    try {
      const error = await failure(client.registry.writeTarget('APACHE_DAV', scope, 'expired.bin'));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toBe(
        `the X.509 proxy ${expired} (env X509_USER_PROXY) expired at 2020-01-02T00:00:00.000Z; renew it (voms-proxy-init or grid-proxy-init) and retry`,
      );
    } finally {
      await client.close();
    }
    // Presented anyway (as a pool built before it expired would): Apache's alert, read back.
    const pem = await readFile(expired, 'utf8');
    const pool = new Agent({ connect: { ca: readFileSync(davs.info.ca_cert, 'utf8'), cert: pem, key: pem } });
    const store = new DavStore({
      scheme: 'davs',
      prefix: '/dav/',
      dispatcher: () => Promise.resolve(pool),
      certificate: { certFile: expired, keyFile: expired, kind: 'proxy', source: 'a test' },
      trust: 'the test CA',
      tls: () => Promise.resolve({ ca: [readFileSync(davs.info.ca_cert, 'utf8')], cert: pem, key: pem }),
    });
    try {
      const error = await failure(store.put(`davs://127.0.0.1:${port(davs.info.strict_url)}/dav/expired.bin`, Buffer.from('x')));
      expect(error).toBeInstanceOf(StorageAccessError);
      expect(error.message).toMatch(/TLS handshake refused: the storage says the client certificate has expired .*presented: X\.509 proxy .*\(a test\)/);
    } finally {
      await pool.close();
    }
  });

  it('a wrong bearer token: 401 invalid_token naming its file; no token: 401 naming where tokens are looked for; never the token itself', async () => {
    const file = join(work, 'wrong-token');
    await writeFile(file, 'not-the-token\n', { mode: 0o600 });
    const wrong = await clientFor({ ...trusting(), BEARER_TOKEN_FILE: file });
    const none = await clientFor(trusting());
    try {
      const target = await wrong.registry.writeTarget('APACHE_TOKEN', scope, 'wrong-token.bin');
      const error = await refusal(target.store.put(target.pfn, Buffer.from('x')));
      expect(error.status).toBe(401);
      expect(error.message).toMatch(new RegExp(`HTTP 401 \\(invalid_token\\): the storage refused the bearer token ${file} \\(env BEARER_TOKEN_FILE\\)`));
      expect(error.message).not.toContain('not-the-token');
      const bare = await none.registry.writeTarget('APACHE_TOKEN', scope, 'no-token.bin');
      const missing = await refusal(bare.store.get(bare.pfn));
      expect(missing.status).toBe(401);
      expect(missing.message).toMatch(/the storage wants a bearer token and none was found: set BEARER_TOKEN or BEARER_TOKEN_FILE, put the token in \$XDG_RUNTIME_DIR\/bt_u<uid> or \/tmp\/bt_u<uid>/);
      expect(existsSync(join(davs.info.root.token, new URL(target.pfn).pathname.replace(/^\/token\//, '')))).toBe(false);
    } finally {
      await Promise.all([wrong.close(), none.close()]);
    }
  });

  it('an untrusted storage CA (only the system store): names the certificate error and where CAs come from', async () => {
    const client = await clientFor({ X509_USER_PROXY: davs.info.proxy });
    try {
      const target = await client.registry.writeTarget('APACHE_DAV', scope, 'untrusted.bin');
      const error = await failure(target.store.get(target.pfn));
      expect(error).toBeInstanceOf(StorageAccessError);
      expect(error.message).toMatch(/the storage's TLS certificate is not trusted \(SELF_SIGNED_CERT_IN_CHAIN: .*trusted CAs: the system CA store .*--ca-cert or X509_CERT_DIR/);
    } finally {
      await client.close();
    }
  });

  it('a proxy on a stock Apache that does not accept proxies, and a proxy without its chain: the alerts explained', async () => {
    const stock = await clientFor({ ...trusting(stockApache), X509_USER_PROXY: stockApache.info.proxy }, {}, stockApache);
    const chainless = join(work, 'proxy-without-chain.pem');
    await writeFile(
      chainless,
      (await readFile(join(davs.info.dir, 'pki', 'proxy-cert.pem'), 'utf8')) + (await readFile(davs.info.proxy_key, 'utf8')),
      { mode: 0o600 },
    );
    const alone = await clientFor({ ...trusting(), X509_USER_PROXY: chainless });
    try {
      const target = await stock.registry.writeTarget('APACHE_DAV', scope, 'stock.bin');
      const error = await failure(target.store.put(target.pfn, Buffer.from('x')));
      expect(error).toBeInstanceOf(StorageAccessError);
      expect(error.message).toMatch(/the storage did not accept the client certificate \(alert "certificate unknown"\): a proxy certificate on a server that does not accept proxies/);
      const lone = await alone.registry.writeTarget('APACHE_STRICT', scope, 'chainless.bin');
      const unknownCa = await failure(lone.store.get(lone.pfn));
      expect(unknownCa).toBeInstanceOf(StorageAccessError);
      expect(unknownCa.message).toMatch(/alert "unknown ca"\); a proxy must be sent with the user certificate that signed it/);
    } finally {
      await Promise.all([stock.close(), alone.close()]);
    }
  });
});

/**
 * An RFC 3820 proxy of the test peer's user certificate that expired on 2 January 2020, made as
 * voms-proxy-init -rfc would make it but with `openssl ca` dates in the past.
 */
async function expiredProxy(server: DavsServer): Promise<string> {
  const dir = join(server.dir, 'expired-proxy');
  const pki = join(server.info.dir, 'pki');
  await mkdir(join(dir, 'new'), { recursive: true });
  const { stdout } = await exec('openssl', ['x509', '-in', server.info.client_cert, '-noout', '-subject', '-nameopt', 'compat']);
  const subject = stdout.trim().replace(/^subject=/, '');
  const serial = 4_242_424;
  await writeFile(join(dir, 'proxy.ext'), 'keyUsage=critical,digitalSignature,keyEncipherment\nproxyCertInfo=critical,language:id-ppl-inheritAll\n');
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), `${serial.toString(16).padStart(8, '0')}\n`);
  await writeFile(
    join(dir, 'ca.cnf'),
    `[ca]\ndefault_ca = proxy\n[proxy]\ndir = ${dir}\ndatabase = ${dir}/index.txt\nnew_certs_dir = ${dir}/new\nserial = ${dir}/serial\n` +
      'default_md = sha256\npolicy = any\nunique_subject = no\ncopy_extensions = none\n[any]\n',
  );
  await exec('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'proxy.key'), '-out', join(dir, 'proxy.csr'), '-subj', `${subject}/CN=${serial}`]);
  await exec('openssl', [
    'ca', '-batch', '-config', join(dir, 'ca.cnf'), '-cert', join(pki, 'client.pem'), '-keyfile', join(pki, 'client.key'),
    '-in', join(dir, 'proxy.csr'), '-out', join(dir, 'proxy-cert.pem'), '-startdate', '20200101000000Z', '-enddate', '20200102000000Z',
    '-extfile', join(dir, 'proxy.ext'), '-preserveDN', '-notext',
  ]);
  const file = join(dir, 'x509up_expired');
  const parts = await Promise.all([join(dir, 'proxy-cert.pem'), join(dir, 'proxy.key'), join(pki, 'client.pem')].map((f) => readFile(f, 'utf8')));
  await writeFile(file, parts.join(''), { mode: 0o600 });
  return file;
}
