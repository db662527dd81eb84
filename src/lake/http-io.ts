import type { IncomingMessage, ServerResponse } from 'node:http';
import { RucioApiError, rucioErrors } from './rucio-error.js';

const maxBodyBytes = 64 * 1024 * 1024;

/** A request body too large to read: answered with the connection closed, the rest left unread. */
export class BodyTooLargeError extends RucioApiError {
  constructor(limit: number) {
    super(413, 'InvalidObject', `request body larger than ${limit} bytes`);
  }
}

/**
 * The request body, at most `limit` bytes, else rejected with `tooLarge(limit)` and the request
 * paused: the rest is never read, and the answer closes the connection. Plain 'data' events cost less
 * than async iteration of the stream.
 */
export function readBody(req: IncomingMessage, limit = maxBodyBytes, tooLarge: (limit: number) => Error = (bytes) => new BodyTooLargeError(bytes)): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] ?? Buffer.alloc(0)) : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Far deeper than any Rucio request body nests (a list of DIDs with a meta dict is 3). */
export const maxJsonDepth = 64;

/** Deepest nesting of arrays and objects in a JSON text (a scan: checked before anything recursive walks it). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c) i++;
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x5b || code === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (code === 0x5d || code === 0x7d) depth--;
  }
  return deepest;
}

/** Parses a JSON body whatever its Content-Type (the Python client sends none). */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw rucioErrors.badJson();
  const text = body.toString('utf8');
  if (jsonDepth(text) > maxJsonDepth) throw new RucioApiError(400, 'ValueError', `Cannot decode json parameter: nested deeper than ${maxJsonDepth} levels`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw rucioErrors.badJson();
  }
}

export function parseJsonObject(body: Buffer): Record<string, unknown> {
  const value = parseJson(body);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw rucioErrors.notADict();
  return value as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': String(payload.length),
    ...headers,
  });
  res.end(payload);
}

/** Header values must be latin-1 without newlines; Rucio's messages are plain ASCII anyway. */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

export function sendError(res: ServerResponse, error: RucioApiError): void {
  const body = JSON.stringify({ ExceptionClass: error.exceptionClass, ExceptionMessage: error.message });
  send(res, error.status, 'application/octet-stream', body, {
    ExceptionClass: error.exceptionClass,
    ExceptionMessage: headerSafe(error.message),
  });
}

export function sendJson(res: ServerResponse, value: unknown, status = 200): void {
  send(res, status, 'application/json', JSON.stringify(value));
}

/**
 * An `application/x-json-stream` body (one JSON document per line, each ending in `\n`; empty list =
 * empty body) kept as 64 KB pieces: a listing of 14,400 replicas is ~7 MB, and building it as one
 * string, then copying it into one Buffer, left tens of MB of garbage in the old generation.
 */
export class JsonStreamBody {
  private readonly pieces: Buffer[] = [];
  private pending = '';
  private bytes = 0;

  add(item: unknown): void {
    this.pending += `${JSON.stringify(item)}\n`;
    if (this.pending.length >= 65_536) this.flush();
  }

  send(res: ServerResponse): void {
    this.flush();
    res.writeHead(200, { 'Content-Type': 'application/x-json-stream', 'Content-Length': String(this.bytes) });
    for (const piece of this.pieces) res.write(piece);
    res.end();
  }

  private flush(): void {
    if (this.pending === '') return;
    const piece = Buffer.from(this.pending, 'utf8');
    this.pending = '';
    this.pieces.push(piece);
    this.bytes += piece.length;
  }
}

export function sendJsonStream(res: ServerResponse, items: Iterable<unknown>): void {
  const body = new JsonStreamBody();
  for (const item of items) body.add(item);
  body.send(res);
}

export function sendCreated(res: ServerResponse): void {
  send(res, 201, 'text/html; charset=utf-8', 'Created');
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/html; charset=utf-8'): void {
  send(res, status, contentType, text);
}

export function sendRaw(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers?: Record<string, string>): void {
  send(res, status, contentType, body, headers);
}

/** Flask's 404 page for a path no view serves (transcript: POST /traces/). */
export function sendHtmlNotFound(res: ServerResponse): void {
  send(
    res,
    404,
    'text/html; charset=utf-8',
    '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n' +
      '<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n',
  );
}

export function sendMethodNotAllowed(res: ServerResponse, allowed: readonly string[]): void {
  send(
    res,
    405,
    'text/html; charset=utf-8',
    '<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n' +
      '<p>The method is not allowed for the requested URL.</p>\n',
    { Allow: allowed.join(', ') },
  );
}
