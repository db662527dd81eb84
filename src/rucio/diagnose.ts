import { randomBytes } from 'node:crypto';
import { rmdir, stat } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { definedProps } from '../common/defined.js';
import { isWavefierError, errorMessage } from '../common/errors.js';
import { RucioClient } from './client.js';
import type { RucioConfig } from './config.js';
import { protocolsFor } from './rse.js';
import { FileStore } from './store-file.js';

/** One line of `wavefier doctor`: what was checked, whether it passed, and what to do if not. */
export interface CheckResult {
  check: string;
  ok: boolean;
  /** Not run because an earlier check it depends on failed (or it was not asked for). */
  skipped?: boolean;
  detail: string;
  fix?: string;
  ms: number;
  exitCode?: number;
}

async function timed(check: string, body: () => Promise<{ detail: string }>, fix: (error: unknown) => string): Promise<CheckResult> {
  const started = performance.now();
  try {
    const { detail } = await body();
    return { check, ok: true, detail, ms: performance.now() - started };
  } catch (error) {
    return {
      check,
      ok: false,
      detail: errorMessage(error),
      fix: fix(error),
      ms: performance.now() - started,
      exitCode: isWavefierError(error) ? error.exitCode : 1,
    };
  }
}

/** The directories between `prefix` and the file at `path` that do not exist yet, deepest first. */
async function missingDirectories(path: string, prefix: string): Promise<string[]> {
  const root = resolve(prefix);
  const missing: string[] = [];
  for (let dir = dirname(resolve(path)); dir.startsWith(`${root}${sep}`); dir = dirname(dir)) {
    if (await stat(dir).then(() => true, () => false)) break;
    missing.push(dir);
  }
  return missing;
}

/**
 * How wavefier reaches an RSE with `sign_url` (what the catalog offers to sign for): with the RSE's
 * keys in rse-accounts.cfg it signs its own S3 requests (no catalog call per object), else it asks
 * the catalog for presigned URLs. Said so, not just the RSE attribute.
 */
function signing(signUrl: string | undefined, storeScheme: string): string {
  if (signUrl === undefined) return '';
  if (storeScheme === 's3') return ` (S3 requests signed by wavefier with the RSE's keys from rse-accounts.cfg; the catalog's sign_url ${signUrl} is not used)`;
  return ` (URLs presigned by the catalog: sign_url ${signUrl})`;
}

export function skipped(check: string, why: string): CheckResult {
  return { check, ok: true, skipped: true, detail: `skipped: ${why}`, ms: 0 };
}

/**
 * Reachability (ping), authentication (whoami) and, with an RSE, a probe object written, read back
 * and deleted through the same storage path uploads use (or only resolved with `write: false`).
 */
export async function diagnoseRucio(
  config: RucioConfig,
  options: { rse?: string | undefined; write: boolean; scope?: string | undefined; env?: NodeJS.ProcessEnv },
): Promise<CheckResult[]> {
  const client = new RucioClient(config, { retry: { attempts: 2, baseDelayMs: 100 }, ...definedProps({ env: options.env }) });
  const results: CheckResult[] = [];
  try {
    const ping = await timed(
      'reachability',
      async () => ({ detail: `Rucio ${(await client.ping()).version} at ${config.rucioHost}` }),
      () => `check rucio_host (${config.sources.rucioHost ?? 'settings'}), the network and that the server is up`,
    );
    results.push(ping);
    if (!ping.ok) {
      results.push(skipped('authentication', 'server unreachable'), skipped('rse', 'server unreachable'));
      return results;
    }
    const auth = await timed(
      'authentication',
      async () => {
        await client.auth.authenticate();
        const who = await client.whoami();
        const token = client.auth.tokenSource === undefined ? '' : `, with ${client.auth.tokenSource}`;
        return { detail: `authenticated as ${who.account} (${config.authType} at ${config.authHost}${token})` };
      },
      () =>
        config.authType === 'userpass'
          ? 'check username/password and account in rucio.cfg [client] (or RUCIO_ACCOUNT)'
          : config.authType === 'oidc'
            ? 'log in again with the official client (rucio -S oidc whoami) for this account and VO, or give a fresh bearer token (--bearer-token-file)'
            : config.authType === 'token'
              ? 'refresh the bearer token (BEARER_TOKEN / BEARER_TOKEN_FILE) and check the account'
            : 'check client_cert/client_key or the proxy, ca_cert, and that the certificate DN is mapped to the account',
    );
    results.push(auth);
    if (options.rse === undefined) {
      results.push(skipped('rse', 'no --rse given'));
      return results;
    }
    if (!auth.ok) {
      results.push(skipped('rse', 'not authenticated'));
      return results;
    }
    const rseName = options.rse;
    results.push(
      await timed(
        'rse',
        async () => {
          const info = await client.rse(rseName);
          const write = protocolsFor(info, 'write')[0];
          if (write === undefined) throw new Error(`RSE ${rseName} has no protocol with write access`);
          const scope = options.scope ?? `user.${config.account}`;
          const name = `wavefier-doctor-probe-${Date.now()}-${randomBytes(4).toString('hex')}`;
          const target = await client.storage.writeTarget(rseName, scope, name);
          const where = `${write.scheme}://${write.hostname}${write.port === 0 ? '' : `:${write.port}`}${signing(info.signUrl, target.store.scheme)}`;
          const presenting = target.store.presented === undefined ? '' : `, presenting ${target.store.presented}`;
          if (!options.write) return { detail: `${rseName} resolved: ${where}, lfn2pfn ${info.lfn2pfnAlgorithm}${presenting}; write probe skipped (--no-write)` };
          const probe = randomBytes(64);
          // A posix RSE gets the probe's hash directories (<scope>/<h0:2>/<h2:4>): remove again the ones the probe made.
          const madeDirs = target.protocol.scheme === 'file' ? await missingDirectories(FileStore.pathOf(target.pfn), write.prefix) : [];
          await target.store.put(target.pfn, probe);
          try {
            const back = await target.store.get(target.pfn);
            if (!Buffer.from(back).equals(probe)) throw new Error(`the probe read back from ${target.pfn} differs from what was written`);
          } finally {
            await target.store.delete(target.pfn);
            // WebDAV: the collections the probe needed go again (only those it made, only if empty).
            await target.store.removeEmptyParents?.(target.pfn);
            // Posix: the hash directories the probe made (FileStore creates them and leaves them).
            for (const dir of madeDirs) await rmdir(dir).catch(() => undefined);
          }
          return { detail: `${rseName}: wrote, read back and deleted a probe object via ${where}${presenting}` };
        },
        () =>
          `check that RSE ${rseName} exists and that its storage accepts this client's writes ` +
          '(rse-accounts.cfg or AWS_* credentials for s3, directory permissions for file, sign_url for presigned; ' +
          'for davs/https the X.509 proxy or certificate (X509_USER_PROXY, /tmp/x509up_u<uid>), a bearer token, and the CAs of X509_CERT_DIR or --ca-cert)',
      ),
    );
    return results;
  } finally {
    await client.close().catch(() => undefined);
  }
}
