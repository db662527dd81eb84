import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSyntheticRun } from '../../tools/fixtures/synthetic-logs.js';
import { fixtureRuns, fixturesDir } from '../fixtures/report/fixtures.js';
import { scratchDirPerTest } from '../helpers/scratch.js';

const scratch = scratchDirPerTest('wavefier-report-');

describe('report log fixtures', () => {
  it('are exactly what the synthetic log writer produces (regenerate with WAVEFIER_REGENERATE_FIXTURES=1)', async () => {
    const regenerate = process.env.WAVEFIER_REGENERATE_FIXTURES === '1';
    for (const { dir: name, options } of fixtureRuns) {
      const target = regenerate ? join(fixturesDir, name) : join(scratch.path, name);
      await writeSyntheticRun({ ...options, logDir: target });
      const runDir = join(fixturesDir, name, options.run);
      const files = (await readdir(join(target, options.run))).sort();
      expect((await readdir(runDir)).sort()).toEqual(files);
      for (const file of files) {
        expect(await readFile(join(target, options.run, file), 'utf8'), `${name}/${file}`).toBe(await readFile(join(runDir, file), 'utf8'));
      }
    }
  });
});
