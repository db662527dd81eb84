import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { z } from 'zod';
import {
  downloadChunkEventSchema,
  downloadStatuses,
  runEventSchema,
  uploadChunkEventSchema,
  uploadEventKinds,
  type DownloadChunkEvent,
  type RunEvent,
  type UploadChunkEvent,
} from '../common/log-records.js';
import type { LogFile } from './log-discovery.js';
import type { LogFileSummary, MalformedLine } from './report-types.js';

/** Malformed lines kept with their reasons; beyond that they are only counted. */
export const maxMalformedKept = 1000;

/** Receives the valid events of a log, in file order; `order` increases across all files read. */
export interface LogSink {
  uploadChunk(event: UploadChunkEvent, order: number): void;
  downloadChunk(event: DownloadChunkEvent, order: number): void;
  /**
   * run_started, ready and run_finished. `time`: the line's pino timestamp (epoch ms), when it has
   * one: when the writer started, was ready or stopped; `hostname`: pino's, when the line has one.
   */
  runEvent(event: RunEvent, time: number | undefined, order: number, hostname: string | undefined): void;
}

const uploadKinds = new Set<string>(uploadEventKinds);
const downloadKinds = new Set<string>(downloadStatuses);
const runKinds = new Set<string>(['run_started', 'ready', 'run_finished']);

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(line)'}: ${issue.message}`)
    .join('; ');
}

/** Whether the file ends without a newline: its last line was cut short (a killed writer). */
async function endsWithoutNewline(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    await handle.close();
  }
}

/** What one line of a log of `side` is. */
export type LogLine =
  | { kind: 'blank' }
  /** Not JSON (`unparsable` holds the parser's message), not an object, or a known event that fails its schema. */
  | { kind: 'malformed'; reason: string; unparsable?: string }
  /** No event (a pino diagnostic), or an event this side's log does not carry. */
  | { kind: 'ignored' }
  /** run_started, ready or run_finished; `time` is the line's pino timestamp. */
  | { kind: 'run'; event: RunEvent; time: number | undefined; hostname: string | undefined }
  | { kind: 'upload'; event: UploadChunkEvent; hostname: string | undefined }
  | { kind: 'download'; event: DownloadChunkEvent; hostname: string | undefined };

/**
 * The one definition of what a log line is, for the report and for the live view: run events are
 * read from either side's log, chunk events only from their own side's, each validated against its
 * schema.
 */
export function classifyLogLine(side: LogFile['side'], text: string): LogLine {
  if (text.trim() === '') return { kind: 'blank' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const why = error instanceof Error ? error.message : 'invalid JSON';
    return { kind: 'malformed', reason: `not valid JSON: ${why}`, unparsable: why };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'malformed', reason: 'not a JSON object' };
  const record = value as { event?: unknown; hostname?: unknown; time?: unknown };
  const event = record.event;
  if (typeof event !== 'string') return { kind: 'ignored' };
  const hostname = typeof record.hostname === 'string' && record.hostname !== '' ? record.hostname : undefined;
  if (runKinds.has(event)) {
    const parsed = runEventSchema.safeParse(value);
    if (!parsed.success) return { kind: 'malformed', reason: `${event} event does not match its schema: ${describeIssues(parsed.error)}` };
    const time = typeof record.time === 'number' && Number.isFinite(record.time) ? record.time : undefined;
    return { kind: 'run', event: parsed.data, time, hostname };
  }
  if (side === 'upload') {
    if (!uploadKinds.has(event)) return { kind: 'ignored' };
    const parsed = uploadChunkEventSchema.safeParse(value);
    if (!parsed.success) return { kind: 'malformed', reason: `upload '${event}' event does not match its schema: ${describeIssues(parsed.error)}` };
    return { kind: 'upload', event: parsed.data, hostname };
  }
  if (!downloadKinds.has(event)) return { kind: 'ignored' };
  const parsed = downloadChunkEventSchema.safeParse(value);
  if (!parsed.success) return { kind: 'malformed', reason: `download '${event}' event does not match its schema: ${describeIssues(parsed.error)}` };
  return { kind: 'download', event: parsed.data, hostname };
}

/**
 * Streams one JSON-lines log line by line into `sink`. Lines that are not JSON objects, and known
 * events that fail their schema, are added to `malformed` (file:line and why) and skipped; lines
 * without a known event (pino diagnostics, other events) are counted as ignored.
 */
export async function readLogFile(
  file: LogFile,
  sink: LogSink,
  malformed: MalformedLine[],
  counter: { order: number },
  progress?: { every: number; report: (file: string, lines: number) => void },
): Promise<LogFileSummary> {
  const summary: LogFileSummary = { path: file.path, side: file.side, lines: 0, chunkEvents: 0, runEvents: 0, ignored: 0, malformed: 0, hosts: [] };
  const hosts = new Set<string>();
  const cutShort = await endsWithoutNewline(file.path);
  const lines = createInterface({ input: createReadStream(file.path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let pending: { line: number; text: string } | undefined;
  const handle = (lineNumber: number, text: string, isLast: boolean): void => {
    const line = classifyLogLine(file.side, text);
    switch (line.kind) {
      case 'blank':
        return;
      case 'malformed':
        summary.malformed++;
        if (malformed.length < maxMalformedKept) {
          const reason =
            line.unparsable !== undefined && isLast && cutShort
              ? `truncated last line (no final newline: the writer was probably killed): ${line.unparsable}`
              : line.reason;
          malformed.push({ file: file.path, line: lineNumber, reason });
        }
        return;
      case 'ignored':
        summary.ignored++;
        return;
    }
    if (line.hostname !== undefined) hosts.add(line.hostname);
    if (line.kind === 'run') {
      summary.runEvents++;
      sink.runEvent(line.event, line.time, counter.order++, line.hostname);
      return;
    }
    summary.chunkEvents++;
    if (line.kind === 'upload') sink.uploadChunk(line.event, counter.order++);
    else sink.downloadChunk(line.event, counter.order++);
  };
  // One line of look-ahead, so the last line is known as such (it is the one a killed writer cuts).
  for await (const text of lines) {
    summary.lines++;
    if (progress && summary.lines % progress.every === 0) progress.report(file.path, summary.lines);
    if (pending) handle(pending.line, pending.text, false);
    pending = { line: summary.lines, text };
  }
  if (pending) handle(pending.line, pending.text, true);
  summary.hosts = [...hosts];
  return summary;
}
