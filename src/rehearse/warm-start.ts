import { setTimeout as sleep } from 'node:timers/promises';
import { chunkShapeAnnouncementSchema, streamScheduleSchema, type StreamSchedule } from '../common/stream-schedule.js';
import { LogTail } from './log-tail.js';

export type Readiness = 'ready' | 'exited' | 'timeout' | 'aborted';

export interface ReadinessWait {
  /** Resolves when the process that writes the log has exited. */
  exited: Promise<unknown>;
  signal: AbortSignal;
  timeoutMs: number;
  /** How often the log is read (default 20 ms: the wait delays the rehearsal's start by at most that). */
  everyMs?: number;
}

/** What a log showed: the value `pick` found in a line, or why the wait ended without one. */
export type LogWatch<T> = { found: T } | { found?: undefined; ended: Exclude<Readiness, 'ready'> };

/**
 * Waits for the first line of a run's log that `pick` finds something in, by reading what the file
 * gained every few milliseconds; gives up when the writer exits, on the signal, or after `timeoutMs`.
 * The log is JSON lines written whole (sync pino), so a line that has no newline yet is simply read
 * again next time.
 */
export async function whenLogShows<T>(logFile: string, pick: (record: Record<string, unknown>) => T | undefined, wait: ReadinessWait): Promise<LogWatch<T>> {
  const writer = { exited: false };
  void wait.exited.then(() => (writer.exited = true));
  const deadline = Date.now() + wait.timeoutMs;
  const tail = new LogTail(logFile);
  for (;;) {
    if (wait.signal.aborted) return { ended: 'aborted' };
    // Read before giving up on an exit: the last thing the writer did may have been to write the line.
    const wasExited = writer.exited;
    for (const line of await tail.read()) {
      const found = pickFrom(line, pick);
      if (found !== undefined) return { found };
    }
    if (wasExited) return { ended: 'exited' };
    if (Date.now() >= deadline) return { ended: 'timeout' };
    await sleep(wait.everyMs ?? 20, undefined, { signal: wait.signal }).catch(() => undefined);
  }
}

/** Waits for the `ready` event of a run's log (the download's: first poll answered, workers connected). */
export async function whenLogSaysReady(logFile: string, wait: ReadinessWait): Promise<Readiness> {
  const watched = await whenLogShows(logFile, (record) => (record.event === 'ready' ? true : undefined), wait);
  return watched.found === undefined ? watched.ended : 'ready';
}

/**
 * The schedule an upload's `run_started` line fixes (t0, the interval, chunk 0's GPS time), in the
 * form a download takes it (`--schedule-from-owner`), with the shape of the run's chunks when the
 * line says it (and it is one a download takes: without it, the schedule is told all the same);
 * undefined for an unpaced run (no interval: nothing to predict).
 */
export function uploadSchedule(record: Record<string, unknown>): StreamSchedule | undefined {
  const settings = typeof record.settings === 'object' && record.settings !== null ? (record.settings as Record<string, unknown>) : {};
  const periodMs = typeof record.period_ms === 'number' ? record.period_ms : Number.NaN;
  const shape = chunkShapeAnnouncementSchema.safeParse(settings.chunk_shape);
  const parsed = streamScheduleSchema.safeParse({
    t0: record.t0,
    interval_ms: settings.interval_ms,
    gps_start: settings.gps_start,
    duration_s: periodMs / 1000,
    ...(shape.success ? { chunk_shape: shape.data } : {}),
  });
  return parsed.success ? parsed.data : undefined;
}

function pickFrom<T>(line: string, pick: (record: Record<string, unknown>) => T | undefined): T | undefined {
  try {
    const record: unknown = JSON.parse(line);
    return typeof record === 'object' && record !== null ? pick(record as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
