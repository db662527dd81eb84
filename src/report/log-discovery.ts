import { open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError, NotFoundError, errorMessage } from '../common/errors.js';
import type { LogSide, RunInfo } from './report-types.js';

/** `upload.jsonl`, `upload-host2.jsonl`, `download.1.jsonl`...: one file per process or host. */
const logFilePattern = /^(upload|download)[^/]*\.jsonl$/;

/** What the first lines of a log say about it; nothing here decides a join, only which files to read. */
export interface LogFile {
  path: string;
  side: LogSide;
  /** When the file's first line was written (pino `time`), else its modification time. */
  startedMs: number;
  /** Upload logs: the upload run id of its first run or chunk event. */
  run: string | undefined;
  scope: string | undefined;
  dataset: string | undefined;
}

/** How much of a file's start is read to find its first event. */
const headBytes = 65_536;

interface LogHead {
  time: number | undefined;
  run: string | undefined;
  scope: string | undefined;
  dataset: string | undefined;
}

const emptyHead: LogHead = { time: undefined, run: undefined, scope: undefined, dataset: undefined };

function stringField(record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The time of a log's first line, and the run, scope and dataset of its first event (taken from the
 * content rather than the file's name, folder or mtime, which copying logs between hosts changes).
 */
async function readHead(path: string, side: LogSide): Promise<LogHead> {
  // An unreadable file is reported when it is read; here it only loses the hints.
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return emptyHead;
  try {
    const buffer = Buffer.alloc(headBytes);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const lines = buffer.toString('utf8', 0, bytesRead).split('\n');
    // The last piece may be cut by the buffer's end.
    if (bytesRead === headBytes) lines.pop();
    const head: LogHead = { ...emptyHead };
    let first = true;
    for (const line of lines) {
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        continue;
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record)) continue;
      const fields = record as Record<string, unknown>;
      if (first) {
        const time = fields.time;
        head.time = typeof time === 'number' && Number.isFinite(time) ? time : undefined;
        first = false;
      }
      if (typeof fields.event !== 'string') continue;
      // A download log's `run` is its folder name (or a chunk's run): only the upload side's names a run.
      if (side === 'upload') head.run ??= stringField(fields, 'run');
      head.scope ??= stringField(fields, 'scope');
      head.dataset ??= stringField(fields, 'dataset');
      if ((side === 'download' || head.run !== undefined) && head.dataset !== undefined) break;
    }
    return head;
  } finally {
    await handle.close();
  }
}

async function logFile(path: string, side: LogSide, mtimeMs: number): Promise<LogFile> {
  const head = await readHead(path, side);
  return { path, side, startedMs: head.time ?? mtimeMs, run: head.run, scope: head.scope, dataset: head.dataset };
}

function logSideOf(fileName: string): LogSide | undefined {
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
  return files;
}

/**
 * Every upload and download log under the paths the user gave, from any host: a path may be a log
 * file, a directory holding logs (a run directory), or a directory whose subdirectories hold them
 * (the --log-dir of upload or download). Which run a file belongs to is read from its lines, never
 * from the folder it sits in.
 */
export async function discoverLogs(paths: readonly string[]): Promise<LogFile[]> {
  if (paths.length === 0) throw new InputError('no log directory given: pass the --log-dir of upload/download, or a run directory');
  const files = new Map<string, LogFile>();
  const add = (found: readonly LogFile[]): void => {
    for (const file of found) if (!files.has(file.path)) files.set(file.path, file);
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
      add([await logFile(path, side, info.mtimeMs)]);
      continue;
    }
    const found = await logFilesIn(path);
    for (const child of await readdir(path, { withFileTypes: true })) {
      if (child.isDirectory()) found.push(...(await logFilesIn(join(path, child.name))));
    }
    if (found.length === 0) {
      // The user named the wrong directory: a usage problem (exit 2), as a path that does not exist.
      throw new InputError(
        `no upload*.jsonl or download*.jsonl in '${given}' nor in its subdirectories: pass the --log-dir given to upload/download, or one of its run directories`,
      );
    }
    add(found);
  }
  return [...files.values()].sort((a, b) => a.path.localeCompare(b.path));
}

/** One upload run found in the logs: its id and the upload logs that name it. */
export interface UploadRun {
  id: string;
  files: LogFile[];
  /** Earliest start of its files: the latest-started run is "the most recent". */
  startedMs: number;
  scope: string | undefined;
  dataset: string | undefined;
}

/** Which logs a report reads, and for which upload run. */
export interface RunSelection {
  /** The upload run reported; undefined when there is no upload log and no --run (download logs only). */
  run: string | undefined;
  selectedBy: RunInfo['selectedBy'];
  /** Every upload run found, most recent first. */
  candidates: string[];
  uploadFiles: LogFile[];
  /** Download logs that may hold chunks of the run (all but those about another dataset). */
  downloadFiles: LogFile[];
  /** Upload logs whose lines name no run at all (empty, or only diagnostics). */
  anonymousUploadFiles: LogFile[];
}

/** The upload runs of the logs, most recent first. */
export function uploadRunsOf(files: readonly LogFile[]): UploadRun[] {
  const runs = new Map<string, LogFile[]>();
  for (const file of files) {
    if (file.side !== 'upload' || file.run === undefined) continue;
    const known = runs.get(file.run);
    if (known) known.push(file);
    else runs.set(file.run, [file]);
  }
  return [...runs.entries()]
    .map(([id, runFiles]) => ({
      id,
      files: runFiles,
      startedMs: Math.min(...runFiles.map((file) => file.startedMs)),
      scope: runFiles.find((file) => file.scope !== undefined)?.scope,
      dataset: runFiles.find((file) => file.dataset !== undefined)?.dataset,
    }))
    .sort((a, b) => b.startedMs - a.startedMs || a.id.localeCompare(b.id));
}

/**
 * The run to report: the upload run asked for, else the only one, else the most recent. Without
 * any upload log (or when --run names a run no upload log has), the download logs are read alone:
 * the report then says what they show, and gives no verdict.
 */
export function selectRun(files: readonly LogFile[], runId: string | undefined): RunSelection {
  const runs = uploadRunsOf(files);
  const candidates = runs.map((run) => run.id);
  const anonymousUploadFiles = files.filter((file) => file.side === 'upload' && file.run === undefined);
  let chosen: UploadRun | undefined;
  let selectedBy: RunInfo['selectedBy'];
  if (runId !== undefined) {
    chosen = runs.find((run) => run.id === runId);
    selectedBy = 'flag';
  } else {
    chosen = runs[0];
    selectedBy = runs.length > 1 ? 'most-recent' : 'only';
  }
  const downloads = files.filter((file) => file.side === 'download');
  // A downloader follows one dataset: its log holds nothing of a run uploaded into another one.
  const downloadFiles =
    chosen === undefined
      ? downloads
      : downloads.filter(
          (file) =>
            (file.dataset === undefined || chosen.dataset === undefined || file.dataset === chosen.dataset) &&
            (file.scope === undefined || chosen.scope === undefined || file.scope === chosen.scope),
        );
  return {
    run: chosen?.id ?? runId,
    selectedBy,
    candidates,
    uploadFiles: chosen?.files ?? [],
    downloadFiles,
    anonymousUploadFiles,
  };
}

/** Says which runs there are when --run names none of them. */
export function unknownRunError(runId: string, candidates: readonly string[]): NotFoundError {
  return new NotFoundError(
    `run '${runId}' is not in the given log directories (neither in an upload log nor in a downloaded chunk); upload runs found: ${candidates.join(', ')}`,
  );
}

/** `<first path>/report`, or next to the file when the first path is a log file. */
export async function defaultPlotsDir(paths: readonly string[]): Promise<string> {
  const first = resolve(paths[0] ?? '.');
  const info = await stat(first).catch(() => undefined);
  return join(info?.isFile() === true ? dirname(first) : first, 'report');
}
