import { fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { dirname, join } from 'node:path';
import { pino, type Logger } from 'pino';
import { redact } from './redact.js';
import { confinedPath } from './safe-path.js';

/**
 * A JSON-lines event log written with pino to a file (DESIGN §3). Each line is written synchronously:
 * a process killed with SIGKILL must not take the record of chunks it already finished with it (the
 * run state in Redis says they are done, so nobody would log them again). A line costs a few
 * microseconds, far below a chunk's own cost. Lines are appended (O_APPEND), so several processes
 * may share one file.
 */
export interface EventLog {
  readonly path: string;
  write(record: Record<string, unknown>, message?: string): void;
  /** Diagnostic (non-event) line, secrets redacted. */
  diagnostic(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
  flush(): void;
  close(): void;
}

export function openEventLog(path: string, base: Record<string, unknown> = {}): EventLog {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'a+', 0o644);
  endTornLine(fd);
  const destination = pino.destination({ dest: fd, sync: true });
  const logger: Logger = pino(
    {
      base: { pid: process.pid, hostname: hostnameOf(), ...base },
      timestamp: pino.stdTimeFunctions.epochTime,
      messageKey: 'msg',
      level: 'debug',
    },
    destination,
  );
  let closed = false;
  return {
    path,
    write(record, message) {
      if (closed) return;
      logger.info(record, message);
    },
    diagnostic(level, message, fields = {}) {
      if (closed) return;
      logger[level](redact(fields) as Record<string, unknown>, message);
    },
    flush() {
      if (!closed) destination.flushSync();
    },
    close() {
      if (closed) return;
      closed = true;
      destination.flushSync();
      destination.end();
    },
  };
}

/**
 * The logs a worker process keeps for the runs it serves, `<logDir>/<run>/<fileName>`, each created
 * with its first line and all closed together: a worker with nothing to note about a run (an upload
 * worker notes only retries) leaves no empty file, which `report` would warn names no run. The run
 * id comes from a job in Redis: it must still name a folder inside logDir (a refusal is a UsageError
 * naming it), checked when the run is first served.
 */
export class RunLogs {
  private readonly logs = new Map<string, EventLog>();

  constructor(
    private readonly logDir: string,
    private readonly fileName: string,
  ) {}

  for(run: string): EventLog {
    let log = this.logs.get(run);
    if (!log) {
      log = openedAtFirstLine(join(confinedPath(this.logDir, run, `run id '${run}' of a queued job`), this.fileName));
      this.logs.set(run, log);
    }
    return log;
  }

  close(): void {
    for (const log of this.logs.values()) log.close();
    this.logs.clear();
  }
}

/** An event log whose file is opened (and its folder made) when its first line is written. */
function openedAtFirstLine(path: string): EventLog {
  let log: EventLog | undefined;
  let closed = false;
  const opened = (): EventLog | undefined => {
    if (!closed) log ??= openEventLog(path);
    return log;
  };
  return {
    path,
    write: (record, message) => opened()?.write(record, message),
    diagnostic: (level, message, fields) => opened()?.diagnostic(level, message, fields),
    flush: () => log?.flush(),
    close: () => {
      closed = true;
      log?.close();
    },
  };
}

/**
 * A process that died in the middle of a write (SIGKILL, a full disk) leaves its last line without its
 * newline: the next line appended would be glued onto the fragment and both would be unreadable. The
 * fragment is ended here, so that it stays one bad line that readers skip, and our first line is whole.
 */
function endTornLine(fd: number): void {
  const { size } = fstatSync(fd);
  if (size === 0) return;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  if (last[0] !== 0x0a) writeSync(fd, '\n');
}

let cachedHostname: string | undefined;
function hostnameOf(): string {
  cachedHostname ??= osHostname();
  return cachedHostname;
}
