import { readFile } from 'node:fs/promises';
import { errorMessage } from '../common/errors.js';
import type { EventLog } from '../common/event-log.js';
import type { RunState } from './run-state.js';

/**
 * Writes the chunk outcomes that workers (here or on other hosts) recorded in the run state into
 * upload.jsonl: the producer is the log's single writer, and a record and its log line are one atomic
 * step in Redis, so a worker killed at any moment leaves neither an outcome without a line nor a line
 * twice. After a crash, lines already in the file are not written again.
 */
export class EventPump {
  private last = '0';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(
    private readonly state: RunState,
    private readonly log: EventLog,
    private readonly written: WrittenOutcomes,
  ) {}

  /** Starts pumping into `log`, after reading which outcomes its file already holds. */
  static async start(state: RunState, log: EventLog): Promise<EventPump> {
    const pump = new EventPump(state, log, await loggedOutcomes(log.path));
    pump.schedule();
    return pump;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.drainOnce()
        .then(() => undefined)
        .catch((error: unknown) => this.log.diagnostic('warn', 'reading recorded outcomes failed; retrying', { error: errorMessage(error) }))
        .finally(() => this.schedule());
    }, 50);
  }

  /** Writes what is in the stream; resolves true when it was empty. */
  private async drainOnce(): Promise<boolean> {
    const entries = await this.state.eventsAfter(this.last);
    for (const { id, event } of entries) {
      if (this.written.add(event.event, event.seq)) this.log.write(event);
      this.last = id;
    }
    if (entries.length > 0) await this.state.trimEvents(this.last);
    return entries.length === 0;
  }

  /** Writes everything recorded so far (after the last outcome is in). */
  async flush(): Promise<void> {
    await this.running;
    for (let attempt = 0; attempt < 100 && !(await this.drainOnce()); attempt++);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

/**
 * The (event, seq) of each chunk outcome in the log, kept for the whole run: a set of seq numbers per
 * event takes ~20 bytes a chunk, where a set of `event:seq` strings took ~125 (1.8 MB over a 4-hour
 * run's 14,400 chunks).
 */
class WrittenOutcomes {
  private readonly byEvent = new Map<string, Set<number | string>>();

  /** Records the outcome; false when it was recorded already. */
  add(event: unknown, seq: unknown): boolean {
    const name = String(event);
    // Numbers as they are (small integers take no memory of their own), anything else as its text.
    const key = typeof seq === 'number' ? seq : String(seq);
    let seqs = this.byEvent.get(name);
    if (seqs === undefined) this.byEvent.set(name, (seqs = new Set()));
    if (seqs.has(key)) return false;
    seqs.add(key);
    return true;
  }
}

/** The chunk outcomes an earlier process of this run already wrote to the log. */
async function loggedOutcomes(logFile: string): Promise<WrittenOutcomes> {
  const written = new WrittenOutcomes();
  let text: string;
  try {
    text = await readFile(logFile, 'utf8');
  } catch {
    return written;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"seq"')) continue;
    try {
      const record = JSON.parse(line) as { event?: unknown; seq?: unknown };
      if (record.event === 'uploaded' || record.event === 'failed' || record.event === 'skipped') {
        written.add(record.event, record.seq);
      }
    } catch {
      // A torn last line of a killed process: its record is still in the stream and is written again.
    }
  }
  return written;
}
