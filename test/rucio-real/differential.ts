/**
 * The differential conformance harness: the same official-client commands and raw REST calls run
 * against a real Rucio server and against the embedded lake, and their outputs are compared after
 * both are normalised (ids, timestamps, hosts, state directories, table padding).
 */
import { join } from 'node:path';
import { run, type RunResult } from './peer.js';

/** One side of the comparison. */
export interface Target {
  label: 'rucio' | 'lake';
  /** rucio.cfg of this side (the official client reads it through RUCIO_CONFIG). */
  cfg: string;
  /** The directory whose path appears in this side's PFNs and RSE prefixes. */
  root: string;
  /** The catalog URL, e.g. http://127.0.0.1:41235. */
  host: string;
  /** The userpass identity, which differs between the sides. */
  username: string;
  password: string;
  /** Working directory of the client (uploads are read from, downloads written to here), and its TMPDIR. */
  work: string;
  /** Strings that are equal on both sides but look like ids (e.g. the md5 of an uploaded file): kept as they are. */
  keep: Set<string>;
  /** Text of this side's output replaced before comparing (e.g. its own storage prefix by the other side's). */
  rewrites?: readonly (readonly [string, string])[];
  /** More environment for the official client (X509_CERT_DIR: the CA gfal2 verifies storage with). */
  env?: NodeJS.ProcessEnv;
}

/** The official client (`rucio` or `rucio-admin`) of the peer's Rucio source, with a side's rucio.cfg. */
export function officialClient(peerState: string, target: Target, tool: 'rucio' | 'rucio-admin', args: readonly string[]): Promise<RunResult> {
  const source = join(peerState, 'src', 'rucio-1.31.7');
  return run('/usr/bin/python3', [join(source, 'bin', tool), ...args], {
    cwd: target.work,
    env: { ...target.env, PYTHONPATH: join(source, 'lib'), RUCIO_CONFIG: target.cfg, TMPDIR: target.work, NO_COLOR: '1' },
    timeoutMs: 120_000,
  });
}

/** What may differ between a real server and the lake without being a difference of behaviour. */
export function normalise(text: string, target: Target): string {
  let out = (target.rewrites ?? []).reduce((rewritten, [from, to]) => rewritten.replaceAll(from, to), text)
    // ANSI colours of the client's log lines
    .replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '')
    // a presigned URL's query (who signed it, when, with which library) is not behaviour
    .replace(/\?X-Amz-[^\s'"]*/g, '?<SIGNATURE>')
    .replaceAll(target.root, '<ROOT>')
    .replaceAll(target.host, '<HOST>')
    .replace(/127\.0\.0\.1:\d+/g, '<HOSTPORT>')
    // the client's log-line stamp, ISO and Rucio's own formats, RFC 1123
    .replace(/\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|\+00:00| UTC)?/g, '<TIME>')
    .replace(/\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2}(?: (?:UTC|GMT))?/g, '<TIME>')
    .replace(/\bin \d+(?:\.\d+)? seconds\b/g, 'in <S> seconds')
    .replace(/\d+(?:\.\d+)? seconds(?= since)/g, '<S> seconds');
  out = out.replace(/\b[0-9a-fA-F]{32}\b/g, (hex) => (target.keep.has(hex) ? hex : hex === hex.toUpperCase() && /[A-F]/.test(hex) ? '<ID>' : '<id>'));
  out = out.replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<uuid>').replace(/\b[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\b/g, '<UUID>');
  return tidyTables(out);
}

/**
 * Table padding follows the widest cell, which ids and paths change: cells are trimmed, borders
 * reduced to one form, runs of spaces collapsed; the rows of a table body are sorted (Rucio does not
 * promise an order for listings).
 */
function tidyTables(text: string): string {
  const lines = text.split('\n').map((line) => line.replace(/[ \t]+$/g, ''));
  const out: string[] = [];
  let body: string[] = [];
  let inBody = false;
  const flush = (): void => {
    out.push(...body.sort());
    body = [];
  };
  for (const raw of lines) {
    const line = raw.replace(/ {2,}/g, ' ');
    if (/^\+[-+=]+\+$/.test(raw) || /^\|[-+|:]+\|?$/.test(raw)) {
      flush();
      out.push('+---+');
      inBody = /^\|[-+|:]+\|?$/.test(raw);
      continue;
    }
    if (raw.startsWith('|')) {
      const cells = raw.slice(1, raw.endsWith('|') ? -1 : undefined).split('|').map((cell) => cell.trim());
      (inBody ? body : out).push(`| ${cells.join(' | ')} |`);
      continue;
    }
    flush();
    inBody = false;
    out.push(line);
  }
  flush();
  return out.join('\n');
}

/** A REST answer reduced to what must agree: status, exception class, content type family, body. */
export interface RestAnswer {
  status: number;
  exceptionClass: string | null;
  contentType: string;
  body: unknown;
}

/** Python's json writes Infinity, which JSON.parse refuses: read it as the string "Infinity". */
const pythonJson = (text: string): string => text.replace(/(?<=[:[,]\s*)Infinity\b/g, '"Infinity"');

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sortDeep(v)]));
  }
  return value;
}

export async function restCall(
  target: Target,
  token: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; sortLines?: boolean } = {},
): Promise<RestAnswer> {
  const response = await fetch(`${target.host}${path}`, {
    method,
    headers: { 'X-Rucio-Auth-Token': token, ...options.headers },
    ...(options.body === undefined ? {} : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
  });
  const text = normalise(await response.text(), target);
  const contentType = (response.headers.get('content-type') ?? '').split(';')[0] ?? '';
  let body: unknown = text;
  if (contentType === 'application/x-json-stream') {
    const lines = text.split('\n').filter((line) => line !== '').map((line) => sortDeep(JSON.parse(pythonJson(line))));
    body = options.sortLines === false ? lines : lines.map((l) => JSON.stringify(l)).sort().map((l) => JSON.parse(l) as unknown);
  } else if (text.startsWith('{') || text.startsWith('[')) {
    try {
      body = sortDeep(JSON.parse(pythonJson(text)));
    } catch {
      body = text;
    }
  }
  return { status: response.status, exceptionClass: response.headers.get('exceptionclass'), contentType, body };
}
