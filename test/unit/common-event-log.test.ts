import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/common/errors.js';
import { RunLogs, openEventLog } from '../../src/common/event-log.js';

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

  it("keeps a worker's log per run under the log directory, one file each, and refuses a run id that leaves it", async () => {
    const logs = new RunLogs(join(dir, 'logs'), 'upload-worker-1.jsonl');
    expect(logs.for('run-a')).toBe(logs.for('run-a'));
    logs.for('run-a').diagnostic('info', 'retrying', { seq: 1 });
    logs.for('run-b').diagnostic('info', 'retrying', { seq: 2 });
    // The run id of a queued job comes from Redis, where anyone with access can write one.
    for (const hostile of ['../outside', '/etc', 'a/../../b']) expect(() => logs.for(hostile)).toThrow(UsageError);
    logs.close();
    expect((await readdir(join(dir, 'logs'))).sort()).toEqual(['run-a', 'run-b']);
    expect(await readdir(dir)).toEqual(['logs']);
    expect(JSON.parse((await linesOf(join(dir, 'logs', 'run-b', 'upload-worker-1.jsonl')))[0] ?? '')).toMatchObject({ msg: 'retrying', seq: 2 });
  });

  it("creates a run's log with its first line: a worker that had nothing to note about a run leaves no empty file", async () => {
    // An empty upload-<host>-<pid>.jsonl (an upload-worker that served a run without a retry) made
    // `wavefier report` warn that it names no upload run.
    const logs = new RunLogs(join(dir, 'logs'), 'upload-worker-1.jsonl');
    const quiet = logs.for('run-quiet');
    expect(quiet.path).toBe(join(dir, 'logs', 'run-quiet', 'upload-worker-1.jsonl'));
    quiet.flush();
    logs.for('run-noted').diagnostic('warn', 'retrying', { seq: 3 });
    logs.close();
    expect(await readdir(join(dir, 'logs'))).toEqual(['run-noted']);
    // Closed: nothing more is written, and no file appears.
    quiet.write({ event: 'late' });
    expect(await readdir(join(dir, 'logs'))).toEqual(['run-noted']);
  });
});
