/**
 * A real Apache httpd serving WebDAV over TLS (the kit in `../shared/peers/davs/`) for one test
 * file: its own state directory, `--owner process.pid` so that it stops by itself if the test
 * process dies, `davs down` and the directory removed after.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sharedDir } from './cli.js';

const run = promisify(execFile);

/** The peers kit: `WAVEFIER_PEERS_DIR`, else `../shared/peers` next to the checkout (as scripts/setup finds it). */
export const davsScript = join(process.env.WAVEFIER_PEERS_DIR ?? join(sharedDir, 'peers'), 'davs', 'davs');

/** The JSON line of `davs up` (the kit's README documents every field). */
export interface DavsInfo {
  base_url: string;
  strict_url: string;
  ca_cert: string;
  ca_dir: string;
  client_cert: string;
  client_key: string;
  proxy: string;
  proxy_chain: string;
  proxy_key: string;
  proxy_certs: boolean;
  token_file: string;
  root: { dav: string; token: string; anon: string };
  pid: number;
  dir: string;
}

export interface DavsServer {
  info: DavsInfo;
  /** The temporary directory holding `state/` and room for the test's own files. */
  dir: string;
  /** The bearer token `/token/` wants. */
  token(): Promise<string>;
  stop(): Promise<void>;
}

export async function startDavs(options: { proxyCerts?: boolean } = {}): Promise<DavsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'wavefier-davs-'));
  const state = join(dir, 'state');
  const args = ['up', '--dir', state, '--owner', String(process.pid), ...(options.proxyCerts === false ? ['--proxy-certs', 'off'] : [])];
  let info: DavsInfo;
  try {
    const { stdout } = await run(davsScript, args, { timeout: 60_000 });
    info = JSON.parse(stdout) as DavsInfo;
  } catch (error) {
    await run(davsScript, ['down', '--dir', state]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw new Error(`could not start the davs test peer (${davsScript}): ${(error as Error).message}; run ../shared/peers/davs/davs install`, { cause: error });
  }
  return {
    info,
    dir,
    token: async () => (await readFile(info.token_file, 'utf8')).trim(),
    async stop() {
      await run(davsScript, ['down', '--dir', state], { timeout: 30_000 });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
