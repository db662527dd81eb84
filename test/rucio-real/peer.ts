/**
 * A real Rucio 1.31.7 server (the kit in `../shared/peers/rucio/`) for one test file: started in a
 * temporary state directory, stopped after, and never left running, even if the test process is
 * killed. Starting and stopping it is tools/peers/rucio.ts (shared with the `rucio-real` benchmark);
 * here: the per-file lifecycle and what the tests read from the official client's output.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import ADLER32 from 'adler-32';
import { afterAll, beforeAll } from 'vitest';
import { startRealRucio, type RealRucio } from '../../tools/peers/rucio.js';

export { cleanupOnExit, peerScript, peersDir, startRealRucio } from '../../tools/peers/rucio.js';
export type { OfficialClient, PeerInfo, RealRucio } from '../../tools/peers/rucio.js';
export { run, type RunOptions, type RunResult } from '../../tools/run-program.js';

/**
 * The rows of a table the official client prints (tabulate's `psql` format): header cells as keys.
 * Lines that are not table rows (log lines, borders) are ignored.
 */
export function parseTable(text: string): Record<string, string>[] {
  const rows = text
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|[-+|]+\|?$/.test(line))
    .map((line) => line.slice(1, line.endsWith('|') ? -1 : undefined).split('|').map((cell) => cell.trim()));
  const [header, ...body] = rows;
  if (header === undefined) return [];
  return body.map((cells) => Object.fromEntries(header.map((key, i) => [key, cells[i] ?? ''])));
}

/** adler32 ('%08x', as Rucio stores it), md5 and size of bytes, computed here (not by wavefier's code). */
export function fileSums(bytes: Uint8Array): { adler32: string; md5: string; bytes: number } {
  return {
    adler32: (ADLER32.buf(bytes, 1) >>> 0).toString(16).padStart(8, '0'),
    md5: createHash('md5').update(bytes).digest('hex'),
    bytes: bytes.byteLength,
  };
}

/** Rucio's deterministic `hash` lfn2pfn path under an RSE prefix (in user* / group* scopes dots become slashes). */
export function hashPath(prefix: string, scope: string, name: string): string {
  const hash = createHash('md5').update(`${scope}:${name}`).digest('hex');
  const scopePath = scope.startsWith('user') || scope.startsWith('group') ? scope.replaceAll('.', '/') : scope;
  return `${prefix}/${scopePath}/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${name}`;
}

/** Every JSON line of a log file. */
export async function readJsonLines(path: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, 'utf8');
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * One real Rucio server for the calling test file: started before its tests, stopped after them.
 * Returns the accessor the tests use.
 */
export function realRucioForFile(): () => RealRucio {
  let peer: RealRucio | undefined;
  beforeAll(async () => {
    peer = await startRealRucio();
  }, 120_000);
  afterAll(async () => {
    await peer?.stop();
  }, 60_000);
  return () => {
    if (peer === undefined) throw new Error('the real Rucio server did not start (see the beforeAll error)');
    return peer;
  };
}
