import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openEventLog, type EventLog } from '../../src/common/event-log.js';
import { connectRedis, startPrivateRedis, type PrivateRedis } from '../../src/redis/index.js';
import { EventPump } from '../../src/uploader/event-pump.js';
import { RunState } from '../../src/uploader/run-state.js';
import { scratchDir } from '../fixtures/strain/files.js';

let server: PrivateRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startPrivateRedis({ persistence: 'none' });
  redis = await connectRedis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

let scratch: ReturnType<typeof scratchDir>;
let state: RunState;
let logFile: string;
const open: (EventLog | EventPump)[] = [];
let runCounter = 0;
beforeEach(() => {
  scratch = scratchDir('event-pump');
  state = new RunState(redis, `pump-run-${++runCounter}`);
  logFile = join(scratch.dir, 'upload.jsonl');
});
afterEach(async () => {
  for (const item of open.splice(0).reverse()) {
    if (item instanceof EventPump) await item.stop();
    else item.close();
  }
  scratch.cleanup();
});

async function startPump(): Promise<EventPump> {
  const log = openEventLog(logFile);
  open.push(log);
  const pump = await EventPump.start(state, log);
  open.push(pump);
  return pump;
}

/** What a worker records for a chunk: the outcome and its log line, in one atomic step. */
function record(outcome: 'uploaded' | 'failed' | 'skipped', seq: number): Promise<boolean> {
  return state.record(outcome, seq, { event: outcome, run: state.runId, seq });
}

/** The outcome lines of the log, as `wavefier report` reads them (a torn line is no record). */
function loggedOutcomes(): { event: unknown; seq: unknown }[] {
  const records: { event: unknown; seq: unknown }[] = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    try {
      const record = JSON.parse(line) as { event: unknown; seq: unknown };
      if (record.seq !== undefined) records.push(record);
    } catch {
      // a torn line
    }
  }
  return records;
}

describe('the event pump (recorded outcomes into upload.jsonl, real redis-server)', () => {
  it('writes every outcome the workers recorded, once and in order, and trims what it wrote from Redis', async () => {
    const pump = await startPump();
    await record('uploaded', 0);
    await record('skipped', 1);
    await record('failed', 2);
    // The same chunk recorded again (a duplicate delivery) is no new outcome and no new line.
    await record('uploaded', 0);
    await pump.flush();
    expect(loggedOutcomes()).toEqual([
      expect.objectContaining({ event: 'uploaded', seq: 0 }),
      expect.objectContaining({ event: 'skipped', seq: 1 }),
      expect.objectContaining({ event: 'failed', seq: 2 }),
    ]);
    // Written entries leave the stream (the newest stays: the pump reads after it).
    expect(await state.eventsAfter('0')).toHaveLength(1);
  });

  it('keeps writing on its own, between flushes, while the run goes on', async () => {
    await startPump();
    await record('uploaded', 0);
    await expect.poll(() => loggedOutcomes().length, { timeout: 5_000, interval: 20 }).toBe(1);
  });

  it('does not write a line twice after a crash, and writes again what a torn last line lost', async () => {
    // An earlier process of this run wrote chunk 0's line and died while writing chunk 1's;
    // it never trimmed the stream, so both records are still in Redis.
    await record('uploaded', 0);
    await record('uploaded', 1);
    writeFileSync(logFile, `${JSON.stringify({ level: 30, event: 'uploaded', run: state.runId, seq: 0 })}\n`);
    appendFileSync(logFile, '{"level":30,"event":"uploaded","run":"');
    // As in runUpload, the resumed process writes its run_started line before the pump starts.
    const log = openEventLog(logFile);
    open.push(log);
    log.write({ event: 'run_started', run: state.runId, side: 'upload' });
    const pump = await EventPump.start(state, log);
    open.push(pump);
    await record('failed', 2);
    await pump.flush();
    expect(loggedOutcomes().map((line) => `${String(line.event)}:${String(line.seq)}`)).toEqual(['uploaded:0', 'uploaded:1', 'failed:2']);
  });

  it('writes nothing more once stopped', async () => {
    const pump = await startPump();
    await record('uploaded', 0);
    await pump.flush();
    await pump.stop();
    await record('uploaded', 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(loggedOutcomes()).toHaveLength(1);
  });
});
