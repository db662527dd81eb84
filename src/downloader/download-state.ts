import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { checkPathName } from '../common/safe-path.js';

/**
 * The folder of a download log under --log-dir: --run-name when given, else the dataset's name. It
 * only keeps one dataset's downloads together and lets a restarted downloader find what it already
 * verified; the report joins logs by the chunks' identity, not by this name.
 */
export function downloadLogFolder(dataset: string, runName: string | undefined): string {
  return runName === undefined
    ? checkPathName(dataset, 'the dataset name', { advice: 'it names the download log folder unless --run-name gives one' })
    : checkPathName(runName, '--run-name');
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
