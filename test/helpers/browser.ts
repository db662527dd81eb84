import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';

/**
 * Opens a page in the system's headless Chromium (Debian's `chromium`, installed by scripts/setup)
 * and drives it over the DevTools protocol on a pipe (--remote-debugging-pipe: requests on fd 3,
 * answers on fd 4, NUL-separated JSON), so no browser driver package is needed. Collects what a
 * person would see in the developer console: console.error/warn calls, uncaught exceptions, and the
 * browser's own log entries (a resource that failed to load).
 */
export const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

export interface PageCheck {
  /** Console errors and warnings, uncaught exceptions, failed loads: "error: ...". */
  problems: string[];
  /** Images on the page that did not decode (naturalWidth 0). */
  brokenImages: string[];
  title: string;
  /** The full page as a PNG. */
  screenshot: Buffer;
  /** Document size in CSS pixels. */
  width: number;
  height: number;
}

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

export async function checkPage(file: string, options: { width?: number; timeoutMs?: number } = {}): Promise<PageCheck> {
  if (chromiumPath === undefined) throw new Error('no chromium at /usr/bin/chromium: run scripts/setup (apt-get install chromium)');
  const profile = await mkdtemp(join(tmpdir(), 'wavefier-chromium-'));
  const child = spawn(
    chromiumPath,
    ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run', `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank'],
    { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
  );
  const input = child.stdio[3] as NodeJS.WritableStream;
  const output = child.stdio[4] as NodeJS.ReadableStream;
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: Record<string, unknown>) => void; reject: (error: Error) => void }>();
  const events: Message[] = [];
  const waiters: { method: string; resolve: () => void }[] = [];
  let buffer = '';
  output.setEncoding('utf8');
  output.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\0')) >= 0) {
      const message = JSON.parse(buffer.slice(0, end)) as Message;
      buffer = buffer.slice(end + 1);
      if (message.id !== undefined) {
        const request = pending.get(message.id);
        pending.delete(message.id);
        if (message.error) request?.reject(new Error(message.error.message));
        else request?.resolve(message.result ?? {});
      } else if (message.method !== undefined) {
        events.push(message);
        for (const waiter of waiters.filter((entry) => entry.method === message.method)) waiter.resolve();
      }
    }
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      input.write(`${JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) })}\0`);
    });
  const timeout = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  try {
    const { targetId } = (await send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const width = options.width ?? 1280;
    await send('Emulation.setDeviceMetricsOverride', { width, height: 900, deviceScaleFactor: 1, mobile: false }, sessionId);
    for (const domain of ['Page', 'Runtime', 'Log']) await send(`${domain}.enable`, {}, sessionId);
    const loaded = new Promise<void>((resolve) => waiters.push({ method: 'Page.loadEventFired', resolve }));
    await send('Page.navigate', { url: pathToFileURL(file).href }, sessionId);
    await loaded;
    const evaluate = async <T>(expression: string): Promise<T> =>
      ((await send('Runtime.evaluate', { expression, returnByValue: true }, sessionId)) as { result: { value: T } }).result.value;
    const brokenImages = await evaluate<string[]>('[...document.images].filter((image) => !image.complete || image.naturalWidth === 0).map((image) => image.alt || image.src.slice(0, 60))');
    const title = await evaluate<string>('document.title');
    const size = await evaluate<{ width: number; height: number }>('({ width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight })');
    const shot = (await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width: size.width, height: size.height, scale: 1 } }, sessionId)) as { data: string };
    const problems: string[] = [];
    for (const event of events) {
      const params = event.params ?? {};
      if (event.method === 'Runtime.consoleAPICalled' && (params.type === 'error' || params.type === 'warning' || params.type === 'assert')) {
        problems.push(`console.${params.type}: ${JSON.stringify(params.args)}`);
      } else if (event.method === 'Runtime.exceptionThrown') {
        problems.push(`uncaught: ${JSON.stringify((params.exceptionDetails as { text?: string } | undefined)?.text ?? params)}`);
      } else if (event.method === 'Log.entryAdded') {
        const entry = params.entry as { level: string; text: string; url?: string };
        if (entry.level === 'error' || entry.level === 'warning') problems.push(`${entry.level}: ${entry.text}${entry.url ? ` (${entry.url})` : ''}`);
      }
    }
    await send('Browser.close').catch(() => undefined);
    return { problems, brokenImages, title, screenshot: Buffer.from(shot.data, 'base64'), width: size.width, height: size.height };
  } finally {
    clearTimeout(timeout);
    // Chromium writes its profile until it has exited: wait for that before removing it.
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

/** Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes) into RGBA rows. */
export function decodePng(png: Buffer): { width: number; height: number; rgba: Uint8Array } {
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const body = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colour, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      if (depth !== 8 || interlace !== 0 || (colour !== 2 && colour !== 6)) throw new Error(`unsupported PNG: depth ${depth}, colour ${colour}, interlace ${interlace}`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') data.push(body);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] ?? 0;
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x] ?? 0;
      const left = x >= channels ? (pixels[y * stride + x - channels] ?? 0) : 0;
      const up = y > 0 ? (pixels[(y - 1) * stride + x] ?? 0) : 0;
      const upLeft = y > 0 && x >= channels ? (pixels[(y - 1) * stride + x - channels] ?? 0) : 0;
      let predicted = 0;
      if (filter === 1) predicted = left;
      else if (filter === 2) predicted = up;
      else if (filter === 3) predicted = (left + up) >> 1;
      else if (filter === 4) {
        const estimate = left + up - upLeft;
        const [a, b, c] = [Math.abs(estimate - left), Math.abs(estimate - up), Math.abs(estimate - upLeft)];
        predicted = a <= b && a <= c ? left : b <= c ? up : upLeft;
      }
      pixels[y * stride + x] = (value + predicted) & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let index = 0; index < width * height; index++) {
    rgba[index * 4] = pixels[index * channels] ?? 0;
    rgba[index * 4 + 1] = pixels[index * channels + 1] ?? 0;
    rgba[index * 4 + 2] = pixels[index * channels + 2] ?? 0;
    rgba[index * 4 + 3] = channels === 4 ? (pixels[index * channels + 3] ?? 255) : 255;
  }
  return { width, height, rgba };
}

/** Fraction of pixels that are not (near) white. */
export function inkedFraction(image: { width: number; height: number; rgba: Uint8Array }): number {
  let inked = 0;
  const total = image.width * image.height;
  for (let index = 0; index < total; index++) {
    const [r, g, b] = [image.rgba[index * 4] ?? 255, image.rgba[index * 4 + 1] ?? 255, image.rgba[index * 4 + 2] ?? 255];
    if (r < 235 || g < 235 || b < 235) inked++;
  }
  return total === 0 ? 0 : inked / total;
}
