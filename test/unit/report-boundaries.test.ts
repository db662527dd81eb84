import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const reportDir = fileURLToPath(new URL('../../src/report/', import.meta.url));

describe('report module boundaries', () => {
  it('reads log files only: no queue, Redis, Rucio, lake, uploader, downloader or CLI imports', async () => {
    const files = (await readdir(reportDir)).filter((file) => file.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    let checked = 0;
    for (const file of files) {
      const source = await readFile(`${reportDir}${file}`, 'utf8');
      const imports = [...source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*from\s+'([^']+)'|import\('([^']+)'\)/g)].map((match) => match[1] ?? match[2] ?? '');
      for (const specifier of imports) {
        checked++;
        expect(specifier, `${file} imports ${specifier}`).not.toMatch(/^(bullmq|ioredis)$|\/(uploader|downloader|rucio|lake|cli|strain|redis)\//);
        if (specifier.startsWith('..')) expect(specifier, `${file} imports ${specifier}`).toMatch(/^\.\.\/common\//);
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});
