import { open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError, NotFoundError, errorMessage } from '../common/errors.js';
import type { LogSide, RunInfo } from './report-types.js';

/** `upload.jsonl`, `upload-host2.jsonl`, `download.1.jsonl`...: one file per process or host. */
const logFilePattern = /^(upload|download)[^/]*\.jsonl$/;

export interface LogFile {
  path: string;
  side: LogSide;
  /** When the file's first line was written (pino `time`), else its modification time. */
  startedMs: number;
}

export interface RunLogs {
  id: string;
  files: LogFile[];
  /** Earliest start of its files: the latest-started run is "the most recent". */
  startedMs: number;
}

/**
 * The time of a log's first line. Taken from the content rather than the file's mtime, which
 * copying logs between hosts resets.
 */
async function firstLineTime(path: string): Promise<number | undefined> {
  // An unreadable file is reported when it is read; here it only loses the ordering hint.
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const buffer = Buffer.alloc(16_384);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const text = buffer.toString('utf8', 0, bytesRead);
    const end = text.indexOf('\n');
    if (end < 0) return undefined;
    const value: unknown = JSON.parse(text.slice(0, end));
    if (typeof value !== 'object' || value === null) return undefined;
    const time = (value as { time?: unknown }).time;
    return typeof time === 'number' && Number.isFinite(time) ? time : undefined;
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

async function logFile(path: string, side: LogSide, mtimeMs: number): Promise<LogFile> {
  return { path, side, startedMs: (await firstLineTime(path)) ?? mtimeMs };
}

export function logSideOf(fileName: string): LogSide | undefined {
  const match = logFilePattern.exec(fileName);
  if (!match) return undefined;
  return match[1] === 'upload' ? 'upload' : 'download';
}

async function logFilesIn(dir: string): Promise<LogFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: LogFile[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const side = logSideOf(entry.name);
    if (side === undefined) continue;
    const path = join(dir, entry.name);
    files.push(await logFile(path, side, (await stat(path)).mtimeMs));
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The runs found under the paths the user gave. A path may be a run directory (it holds
 * upload*.jsonl / download*.jsonl), a log directory holding run directories, or one log file. Runs
 * with the same directory name in several paths (several hosts) are merged into one.
 */
export async function discoverRuns(paths: readonly string[]): Promise<RunLogs[]> {
  if (paths.length === 0) throw new InputError('no log directory given: pass the --log-dir of upload/download, or a run directory');
  const runs = new Map<string, LogFile[]>();
  const add = (id: string, files: LogFile[]): void => {
    if (files.length === 0) return;
    const known = runs.get(id);
    if (known) known.push(...files.filter((file) => !known.some((other) => other.path === file.path)));
    else runs.set(id, [...files]);
  };
  for (const given of paths) {
    const path = resolve(given);
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      throw new InputError(`cannot read log path '${given}': ${errorMessage(error)}; pass an existing log or run directory`, {
        file: given,
        cause: error,
      });
    }
    if (info.isFile()) {
      const side = logSideOf(basename(path));
      if (side === undefined) {
        throw new InputError(`'${given}' is not an upload*.jsonl or download*.jsonl log file; pass a log or run directory`, { file: given });
      }
      add(basename(dirname(path)), [await logFile(path, side, info.mtimeMs)]);
      continue;
    }
    const direct = await logFilesIn(path);
    if (direct.length > 0) {
      add(basename(path), direct);
      continue;
    }
    const children = await readdir(path, { withFileTypes: true });
    let found = false;
    for (const child of children) {
      if (!child.isDirectory()) continue;
      const files = await logFilesIn(join(path, child.name));
      if (files.length > 0) found = true;
      add(child.name, files);
    }
    if (!found) {
      throw new NotFoundError(
        `no upload*.jsonl or download*.jsonl in '${given}' nor in its subdirectories: pass the --log-dir given to upload/download, or one of its run directories`,
      );
    }
  }
  return [...runs.entries()]
    .map(([id, files]) => ({ id, files, startedMs: Math.min(...files.map((file) => file.startedMs)) }))
    .sort((a, b) => b.startedMs - a.startedMs || a.id.localeCompare(b.id));
}

/** The run to report: the one asked for, else the only one, else the most recent. */
export function selectRun(runs: readonly RunLogs[], runId: string | undefined): { run: RunLogs; selectedBy: RunInfo['selectedBy'] } {
  const names = runs.map((run) => run.id);
  if (runId !== undefined) {
    const run = runs.find((candidate) => candidate.id === runId);
    if (!run) throw new NotFoundError(`run '${runId}' is not in the given log directories; runs found: ${names.join(', ')}`);
    return { run, selectedBy: 'flag' };
  }
  const [first] = runs;
  if (!first) throw new NotFoundError('no run logs found in the given directories');
  return { run: first, selectedBy: runs.length === 1 ? 'only' : 'most-recent' };
}

/** `<first path>/report`, or next to the file when the first path is a log file. */
export async function defaultPlotsDir(paths: readonly string[]): Promise<string> {
  const first = resolve(paths[0] ?? '.');
  const info = await stat(first).catch(() => undefined);
  return join(info?.isFile() === true ? dirname(first) : first, 'report');
}
