import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { buildReport, headerFields } from '../../src/report/index.js';
import { writeSyntheticRun } from '../../tools/fixtures/synthetic-logs.js';
import { scratchDirPerTest } from '../helpers/scratch.js';

const scratch = scratchDirPerTest('wavefier-report-header-');

/** Adds settings to a log's run_started line, as upload and download write them. */
async function withSettings(file: string, settings: Record<string, unknown>): Promise<void> {
  const lines = (await readFile(file, 'utf8')).split('\n').map((line) => {
    if (!line.includes('"run_started"')) return line;
    const record = JSON.parse(line) as { settings?: Record<string, unknown> };
    return JSON.stringify({ ...record, settings: { ...record.settings, ...settings } });
  });
  await writeFile(file, lines.join('\n'));
}

async function rucioHeader(upload: Record<string, unknown>, download: Record<string, unknown>): Promise<string | undefined> {
  const files = await writeSyntheticRun({ logDir: scratch.path, run: '20261206T120000Z-7e57', chunks: 5 });
  await withSettings(files.uploadFiles[0] ?? '', upload);
  await withSettings(files.downloadFile ?? '', download);
  const report = await buildReport([scratch.path], {});
  return headerFields(report).find((field) => field.label === 'rucio')?.value;
}

describe("the report header's Rucio server", () => {
  it('names host and version once when both sides talked to the same server', async () => {
    const same = { rucio_host: 'https://rucio.example.org', rucio_version: '1.31.7' };
    expect(await rucioHeader(same, same)).toBe('https://rucio.example.org, Rucio server 1.31.7');
  });

  it('names each side where they differ, and leaves out what a log does not say', async () => {
    expect(await rucioHeader({ rucio_host: 'https://a.example', rucio_version: '1.31.7' }, { rucio_host: 'https://a.example', rucio_version: '32.8.0' })).toBe(
      'https://a.example, Rucio server 1.31.7 (upload) / 32.8.0 (download)',
    );
    expect(await rucioHeader({ rucio_host: 'https://a.example' }, { rucio_host: 'https://b.example', rucio_version: '1.31.7' })).toBe(
      'https://a.example (upload) / https://b.example (download), Rucio server 1.31.7 (download)',
    );
    // Logs of a wavefier that did not ask (or a server that did not answer the ping): the host alone.
    expect(await rucioHeader({ rucio_host: 'https://a.example' }, { rucio_host: 'https://a.example' })).toBe('https://a.example');
  });
});
