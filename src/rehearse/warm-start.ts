import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export type Readiness = 'ready' | 'exited' | 'timeout' | 'aborted';

export interface ReadinessWait {
  /** Resolves when the process that writes the log has exited. */
  exited: Promise<unknown>;
  signal: AbortSignal;
  timeoutMs: number;
  /** How often the log is read (default 20 ms: the wait delays the rehearsal's start by at most that). */
  everyMs?: number;
}

/**
 * Waits for the `ready` event of a run's log (the download's: first poll answered, workers connected)
 * by reading what the file gained every few milliseconds; gives up when the writer exits, on the
 * signal, or after `timeoutMs`. The log is JSON lines written whole (sync pino), so a line that
 * has no newline yet is simply read again next time.
 */
export async function whenLogSaysReady(logFile: string, wait: ReadinessWait): Promise<Readiness> {
  const writer = { exited: false };
  void wait.exited.then(() => (writer.exited = true));
  const deadline = Date.now() + wait.timeoutMs;
  let offset = 0;
  let partial = '';
  for (;;) {
    if (wait.signal.aborted) return 'aborted';
    // Read before giving up on an exit: the last thing the writer did may have been to say it was ready.
    const wasExited = writer.exited;
    const handle = await open(logFile, 'r').catch(() => undefined);
    if (handle !== undefined) {
      try {
        for (;;) {
          const buffer = Buffer.alloc(64 * 1024);
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
          const lines = (partial + buffer.subarray(0, bytesRead).toString('utf8')).split('\n');
          partial = lines.pop() ?? '';
          if (lines.some(isReadyEvent)) return 'ready';
        }
      } finally {
        await handle.close();
      }
    }
    if (wasExited) return 'exited';
    if (Date.now() >= deadline) return 'timeout';
    await sleep(wait.everyMs ?? 20, undefined, { signal: wait.signal }).catch(() => undefined);
  }
}

function isReadyEvent(line: string): boolean {
  if (!line.includes('"ready"')) return false;
  try {
    return (JSON.parse(line) as { event?: unknown }).event === 'ready';
  } catch {
    return false;
  }
}
