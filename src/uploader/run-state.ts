import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ConfigError, InputError, NotFoundError } from '../common/errors.js';
import { withinTime } from '../common/time-limit.js';
import { runSettingsSchema, type RunSettings } from './run-plan.js';

export type ChunkOutcome = 'uploaded' | 'failed' | 'skipped';

const prefix = 'wavefier:run:';
/** The set of runs whose producer is running, for upload-worker processes to serve. */
const activeRunsKey = 'wavefier:runs:active';
/** Run state outlives the run by a week: long enough to resume or inspect, bounded for Redis memory. */
const retentionSeconds = 7 * 24 * 3600;

/** What putSamplesOn needs of a connection: BullMQ's client (whose hset takes a field map) qualifies. */
export interface SamplesConnection {
  hset(key: string, fields: Record<string, Buffer>): Promise<unknown>;
  runCommand(name: string, args: (string | number)[]): Promise<unknown>;
}

// SETBIT returns the previous bit: only the first recorder of a chunk's outcome counts it, and its
// log record is appended to the run's event stream in the same atomic step, so that an outcome is
// never recorded without its log line (the producer writes the stream to upload.jsonl). The
// recorder's token is kept per chunk so that the same call sent again (ioredis re-sends commands
// whose reply a broken connection lost, e.g. across a Redis restart) still answers "first".
const recordScript = `
local previous = redis.call('SETBIT', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('HDEL', KEYS[5], ARGV[1])
if previous == 0 then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
  redis.call('EXPIRE', KEYS[3], ARGV[3])
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  if ARGV[6] == '1' and redis.call('SETBIT', KEYS[6], ARGV[1], 1) == 0 then
    redis.call('HINCRBY', KEYS[2], 'late', 1)
    redis.call('EXPIRE', KEYS[6], ARGV[3])
  end
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  if ARGV[5] ~= '' then
    redis.call('XADD', KEYS[4], '*', 'e', ARGV[5])
    redis.call('EXPIRE', KEYS[4], ARGV[3])
  end
  return 1
end
if redis.call('HGET', KEYS[3], ARGV[1]) == ARGV[4] then
  return 1
end
return 0
`;

/** How long RunState.loadScripts waits for Redis. */
const loadScriptsTimeoutMs = 3000;

interface RecordCommand {
  wavefierRecordOutcome(...keysThenArgs: string[]): Promise<number>;
}

/** The record script as an EVALSHA command: sent once per connection rather than with every call. */
function withRecordCommand(redis: Redis): Redis & RecordCommand {
  if (!('wavefierRecordOutcome' in redis)) redis.defineCommand('wavefierRecordOutcome', { numberOfKeys: 6, lua: recordScript });
  return redis as Redis & RecordCommand;
}

/**
 * The state of an upload run, kept in Redis so that a crashed producer can be resumed from any host
 * (`wavefier upload --resume RUN`) and so that workers can tell a chunk already uploaded from a new one.
 *
 * Keys (all under `wavefier:run:<id>`):
 * - the hash itself: the run's settings (JSON) and `next`, the first sequence number not yet enqueued
 * - `:uploaded`, `:failed`, `:skipped`: bitmaps by sequence number (SETBIT is atomic, so exactly one
 *   worker wins when a chunk is processed twice, and only that one logs it)
 * - `:counts`: a hash of counters for live progress across processes
 * - `:samples`: each queued chunk's samples (raw little-endian float64), by sequence number, until
 *   its outcome is recorded. They travel beside the BullMQ job rather than inside it: 32 KiB of
 *   binary instead of 44 KB of base64 in the job's JSON, which BullMQ's Lua scripts copy on every
 *   step (measured: about 0.2 ms of Redis and 0.25 ms of Node CPU per chunk saved).
 */
export class RunState {
  /** Whether the samples hash has its retention set (putSamples renews it only now and then). */
  private samplesExpirySet = false;

  constructor(
    private readonly redis: Redis,
    readonly runId: string,
  ) {}

  private key(suffix = ''): string {
    return `${prefix}${this.runId}${suffix}`;
  }

  /**
   * Puts the script that records outcomes in Redis's script cache and compiles this process's side
   * of it, without recording anything (false if Redis did not take it; never throws). Without it,
   * the first outcome of a run on a fresh Redis (a rehearsal's private one) went out as EVALSHA,
   * came back NOSCRIPT and was sent again whole: two round trips and a compilation in Redis right
   * when the download fetches chunk 0.
   */
  static async loadScripts(redis: Redis): Promise<boolean> {
    withRecordCommand(redis);
    const loaded = redis.script('LOAD', recordScript).then(
      () => true,
      () => false,
    );
    // A Redis that does not answer is not waited for here: the run meets it again at once.
    return withinTime(loaded, loadScriptsTimeoutMs, () => false);
  }

  static async create(redis: Redis, settings: RunSettings): Promise<RunState> {
    const state = new RunState(redis, settings.runId);
    const created = await redis.hsetnx(state.key(), 'settings', JSON.stringify(settings));
    if (created === 0) {
      throw new ConfigError(`run '${settings.runId}' already exists in Redis: use --resume ${settings.runId} to continue it, or choose another --run-id`);
    }
    await redis.multi().hset(state.key(), 'next', '0').expire(state.key(), retentionSeconds).exec();
    return state;
  }

  static async load(redis: Redis, runId: string): Promise<{ state: RunState; settings: RunSettings; next: number }> {
    const state = new RunState(redis, runId);
    const [settingsJson, next] = await redis.hmget(state.key(), 'settings', 'next');
    if (settingsJson === null || settingsJson === undefined) {
      throw new NotFoundError(`no run '${runId}' in this Redis: check the run id (it is the name of the run's log directory) and --redis`);
    }
    const parsed = runSettingsSchema.safeParse(JSON.parse(settingsJson));
    if (!parsed.success) {
      throw new ConfigError(`run '${runId}' in Redis has unreadable settings (written by another wavefier version?): ${z.prettifyError(parsed.error)}`);
    }
    return { state, settings: parsed.data, next: Number(next ?? '0') };
  }

  async setNext(next: number): Promise<void> {
    await this.redis.hset(this.key(), 'next', String(next));
  }

  async setStatus(status: 'running' | 'finished' | 'interrupted'): Promise<void> {
    const transaction = this.redis.multi().hset(this.key(), 'status', status);
    if (status === 'running') transaction.sadd(activeRunsKey, this.runId);
    else transaction.srem(activeRunsKey, this.runId);
    await transaction.exec();
  }

  /** Runs whose producer is running now (or crashed without saying so: then --resume them). */
  static async activeRuns(redis: Redis): Promise<string[]> {
    return redis.smembers(activeRunsKey);
  }

  /**
   * Marks the outcome and counts it, in one atomic step; resolves true when this call was the first
   * to record it for `seq`. One round trip, so the caller can log right after with the smallest
   * window in which a SIGKILL could separate the record from its log line. An outcome whose record
   * says `late: true` also counts the chunk as late, once per chunk: the run's `late` counter is the
   * number of chunks whose outcome line is flagged late, which is what the report counts.
   */
  async record(outcome: ChunkOutcome, seq: number, event?: Record<string, unknown>, token: string = randomUUID()): Promise<boolean> {
    const first = await withRecordCommand(this.redis).wavefierRecordOutcome(
      this.key(`:${outcome}`),
      this.key(':counts'),
      this.key(`:${outcome}-by`),
      this.key(':events'),
      this.key(':samples'),
      this.key(':late'),
      String(seq),
      outcome,
      String(retentionSeconds),
      token,
      event === undefined ? '' : JSON.stringify(event),
      event?.late === true ? '1' : '0',
    );
    return first === 1;
  }

  /**
   * Keeps chunks' samples, in one HSET, for the workers that upload them (record() drops them with
   * the outcome), on a connection of the caller's to the same Redis: the producer uses its queue's, so that the samples
   * and the job that follows them travel together and are applied in that order. Sent at once: the
   * commands are on their way when this returns.
   */
  async putSamplesOn(connection: SamplesConnection, chunks: { seq: number; samples: Float64Array }[]): Promise<void> {
    const fields: Record<string, Buffer> = {};
    for (const { seq, samples } of chunks) fields[String(seq)] = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
    const key = this.key(':samples');
    const stored = connection.hset(key, fields);
    // The retention is renewed now and then rather than per chunk.
    if (chunks.some(({ seq }) => seq % 64 === 0) || !this.samplesExpirySet) {
      this.samplesExpirySet = true;
      await Promise.all([stored, connection.runCommand('expire', [key, retentionSeconds])]);
    } else {
      await stored;
    }
  }

  /** A queued chunk's samples, or undefined once its outcome is recorded (or Redis lost them). */
  async samples(seq: number, expectedCount: number): Promise<Float64Array | undefined> {
    const bytes = await this.redis.hgetBuffer(this.key(':samples'), String(seq));
    if (bytes === null) return undefined;
    if (bytes.byteLength !== expectedCount * 8) {
      throw new InputError(`chunk ${seq} of run '${this.runId}' has ${bytes.byteLength} bytes of samples in Redis, expected ${expectedCount * 8}`);
    }
    // Copied into an aligned buffer: a Buffer's offset in its backing store need not be a multiple of 8.
    const samples = new Float64Array(expectedCount);
    new Uint8Array(samples.buffer).set(bytes);
    return samples;
  }

  /** Samples nobody will upload any more (chunks whose jobs are gone); called when the run finishes. */
  async dropSamples(): Promise<void> {
    await this.redis.del(this.key(':samples'));
  }

  /** Log records appended by record() after stream id `after` ('0' for all), oldest first. */
  async eventsAfter(after: string, count = 1000): Promise<{ id: string; event: Record<string, unknown> }[]> {
    const entries = await this.redis.xrange(this.key(':events'), after === '0' ? '-' : `(${after}`, '+', 'COUNT', count);
    return entries.map(([id, fields]) => ({ id, event: JSON.parse(fields[1] ?? '{}') as Record<string, unknown> }));
  }

  /** Drops stream entries older than `upTo` once they are in the log (the reader keeps its position). */
  async trimEvents(upTo: string): Promise<void> {
    await this.redis.xtrim(this.key(':events'), 'MINID', upTo);
  }

  async has(outcome: ChunkOutcome, seq: number): Promise<boolean> {
    return (await this.redis.getbit(this.key(`:${outcome}`), seq)) === 1;
  }

  async incrementCounter(name: string): Promise<void> {
    await this.redis.hincrby(this.key(':counts'), name, 1);
  }

  async counts(): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.key(':counts'));
    return Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, Number(value)]));
  }

  /** Sequence numbers below `until` with no recorded outcome: what reconciliation must account for. */
  async unaccounted(until: number): Promise<number[]> {
    const [uploaded, failed, skipped] = await Promise.all(
      (['uploaded', 'failed', 'skipped'] as const).map((outcome) => this.redis.getBuffer(this.key(`:${outcome}`))),
    );
    const isSet = (bitmap: Buffer | null, seq: number): boolean => {
      if (!bitmap) return false;
      const byte = bitmap[seq >> 3];
      return byte !== undefined && (byte & (0x80 >> (seq & 7))) !== 0;
    };
    const missing: number[] = [];
    for (let seq = 0; seq < until; seq++) {
      if (!isSet(uploaded ?? null, seq) && !isSet(failed ?? null, seq) && !isSet(skipped ?? null, seq)) missing.push(seq);
    }
    return missing;
  }
}
