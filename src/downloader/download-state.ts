import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { UsageError } from '../common/errors.js';

/**
 * The folder of a download log under --log-dir: --run-name when given, else the dataset's name. It
 * only keeps one dataset's downloads together and lets a restarted downloader find what it already
 * verified; the report joins logs by the chunks' identity, not by this name.
 */
export function downloadLogFolder(dataset: string, runName: string | undefined): string {
  const name = runName ?? dataset;
  const flag = runName === undefined ? '--dataset' : '--run-name';
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new UsageError(
      `cannot name the download log folder '${name}' (from ${flag}): it must be one folder name, without '/', '\\' or NUL, not '.' or '..'` +
        (runName === undefined ? '; give one with --run-name' : ''),
    );
  }
  return name;
}

/**
 * What a previous downloader of the same dataset already verified, read back from its download log:
 * the log is the durable record (one `verified` line per chunk), so a restarted downloader needs no
 * other state to avoid fetching a chunk twice. A torn last line (a killed process) is ignored.
 */
export async function verifiedNamesFromLog(path: string, scope: string, dataset: string): Promise<Set<string>> {
  const verified = new Set<string>();
  if (!existsSync(path)) return verified;
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.includes('"verified"')) continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof record !== 'object' || record === null) continue;
    const { event, name, scope: recordScope, dataset: recordDataset } = record as Record<string, unknown>;
    if (event === 'verified' && typeof name === 'string' && recordScope === scope && recordDataset === dataset) {
      verified.add(name);
    }
  }
  return verified;
}
