import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEventLog } from '../../src/common/event-log.js';

describe('event log', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wavefier-event-log-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const linesOf = async (path: string): Promise<string[]> => (await readFile(path, 'utf8')).split('\n');

  it('ends a torn last line (a crash mid-write) before appending, so that its first record stays whole', async () => {
    const path = join(dir, 'run', 'upload.jsonl');
    const first = openEventLog(path);
    first.write({ event: 'uploaded', seq: 0 });
    first.close();
    // What a process killed in the middle of a write leaves: half a record, no newline.
    await writeFile(path, '{"event":"uploaded","seq":1,"na', { flag: 'a' });

    const resumed = openEventLog(path);
    resumed.write({ event: 'uploaded', seq: 2 });
    resumed.close();

    const lines = await linesOf(path);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toBe('{"event":"uploaded","seq":1,"na');
    expect(JSON.parse(lines[2] ?? '')).toMatchObject({ event: 'uploaded', seq: 2 });
    expect(lines[3]).toBe('');
  });

  it('adds no empty line to a log that ends cleanly, nor to a new one', async () => {
    const path = join(dir, 'download.jsonl');
    for (const seq of [0, 1]) {
      const log = openEventLog(path);
      log.write({ event: 'verified', seq });
      log.close();
    }
    const lines = await linesOf(path);
    expect(lines.map((line) => (line === '' ? '' : (JSON.parse(line) as { seq: number }).seq))).toEqual([0, 1, '']);
  });
});
