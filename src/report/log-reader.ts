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
  const chunkKinds = file.side === 'upload' ? uploadKinds : downloadKinds;
  const lines = createInterface({ input: createReadStream(file.path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let pending: { line: number; text: string } | undefined;
  const bad = (line: number, reason: string): void => {
    summary.malformed++;
    if (malformed.length < maxMalformedKept) malformed.push({ file: file.path, line, reason });
  };
  const handle = (lineNumber: number, text: string, isLast: boolean): void => {
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      const why = error instanceof Error ? error.message : 'invalid JSON';
      bad(
        lineNumber,
        isLast && cutShort
          ? `truncated last line (no final newline: the writer was probably killed): ${why}`
          : `not valid JSON: ${why}`,
      );
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      bad(lineNumber, 'not a JSON object');
      return;
    }
    const event = (value as { event?: unknown }).event;
    if (typeof event !== 'string') {
      summary.ignored++;
      return;
    }
    const hostname = (value as { hostname?: unknown }).hostname;
    const host = typeof hostname === 'string' && hostname !== '' ? hostname : undefined;
    if (host !== undefined && (runKinds.has(event) || chunkKinds.has(event))) hosts.add(host);
    if (runKinds.has(event)) {
      const parsed = runEventSchema.safeParse(value);
      if (!parsed.success) {
        bad(lineNumber, `${event} event does not match its schema: ${describeIssues(parsed.error)}`);
        return;
      }
      summary.runEvents++;
      const time = (value as { time?: unknown }).time;
      sink.runEvent(parsed.data, typeof time === 'number' && Number.isFinite(time) ? time : undefined, counter.order++, host);
      return;
    }
    if (!chunkKinds.has(event)) {
      summary.ignored++;
      return;
    }
    if (file.side === 'upload') {
      const parsed = uploadChunkEventSchema.safeParse(value);
      if (!parsed.success) {
        bad(lineNumber, `upload '${event}' event does not match its schema: ${describeIssues(parsed.error)}`);
        return;
      }
      summary.chunkEvents++;
      sink.uploadChunk(parsed.data, counter.order++);
    } else {
      const parsed = downloadChunkEventSchema.safeParse(value);
      if (!parsed.success) {
        bad(lineNumber, `download '${event}' event does not match its schema: ${describeIssues(parsed.error)}`);
        return;
      }
      summary.chunkEvents++;
      sink.downloadChunk(parsed.data, counter.order++);
    }
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
