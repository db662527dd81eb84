import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';
import { startLake, type Lake, type LakeOptions } from '../../src/lake/index.js';

export interface TestLake extends Lake {
  /** Stops the lake and removes its directory (unless keepDir). */
  dispose(options?: { keepDir?: boolean }): Promise<void>;
  /** A fresh auth token for the default account. */
  token(): Promise<string>;
  /** fetch() against the catalog with the auth token (and X-Rucio-Account/VO) set. */
  rucio(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  /** fetch() of a storage URL (the lake's TLS endpoint), trusting the lake's CA as its clients do. */
  storageFetch(url: string, init?: UndiciRequestInit): ReturnType<typeof undiciFetch>;
}

/** Starts an embedded lake in a fresh temporary directory (or `options.dir`) for a test. */
export async function startTestLake(options: LakeOptions = {}): Promise<TestLake> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'wavefier-lake-')));
  let lake: Lake;
  try {
    lake = await startLake({ quiet: true, ...options, dir });
  } catch (error) {
    if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let cached: string | undefined;
  const storageAgent = new Agent({ connect: { ca: await readFile(lake.settings.caCert, 'utf8') } });
  let disposed: Promise<void> | undefined;
  const token = async (): Promise<string> => {
    const response = await fetch(`${lake.settings.authHost}/auth/userpass`, {
      headers: {
        'X-Rucio-Account': lake.settings.account,
        'X-Rucio-Username': lake.settings.username,
        'X-Rucio-Password': lake.settings.password,
      },
    });
    const value = response.headers.get('x-rucio-auth-token');
    if (response.status !== 200 || value === null) throw new Error(`lake auth failed with ${response.status}`);
    return value;
  };
  return {
    ...lake,
    token,
    async rucio(path, init = {}) {
      const { token: explicit, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (explicit !== null) headers.set('X-Rucio-Auth-Token', explicit ?? (cached ??= await token()));
      headers.set('X-Rucio-Account', lake.settings.account);
      headers.set('X-Rucio-VO', 'def');
      return fetch(`${lake.settings.rucioHost}${path}`, { ...rest, headers, redirect: 'manual' });
    },
    storageFetch: (url, init = {}) => undiciFetch(url, { ...init, dispatcher: storageAgent }),
    dispose(disposeOptions = {}) {
      // Tests may dispose twice (a test's own cleanup and afterAll): the second call waits for the first.
      return (disposed ??= (async () => {
        await storageAgent.close();
        await lake.close();
        if (disposeOptions.keepDir !== true && options.dir === undefined) await rm(dir, { recursive: true, force: true });
      })());
    },
  };
}
