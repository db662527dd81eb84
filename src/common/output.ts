import { styleText } from 'node:util';
import { terminalText } from './terminal-text.js';

/**
 * Every result a command prints has a text form for people and a JSON form for scripts (as s5cmd
 * does), so `--json` is uniform. Results go to stdout; diagnostics and progress go to stderr.
 * Text for people often carries names and messages from elsewhere (DID names, log lines, server
 * errors): its control characters are escaped here, once for every command (terminal-text.ts).
 */
export interface OutputOptions {
  json: boolean;
  debug: boolean;
  /** -q: informational lines and status lines are not shown; warnings, errors and results are. */
  quiet?: boolean;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

export class Output {
  readonly json: boolean;
  readonly debug: boolean;
  readonly quiet: boolean;
  private readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly env: NodeJS.ProcessEnv;
  /** Lines of the live status block on the terminal now (0: none). */
  private statusLines = 0;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.debug = options.debug;
    this.quiet = options.quiet ?? false;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.env = options.env ?? process.env;
  }

  /** True when a live, overwritten status line makes sense: both streams are terminals and not in CI. */
  get interactive(): boolean {
    return Boolean(this.stdout.isTTY) && Boolean(this.stderr.isTTY) && !this.env.CI && !this.json;
  }

  /** A result: `text` for people, `data` as one JSON line with --json. */
  result(data: unknown, text: string): void {
    this.clearStatus();
    const safe = terminalText(text);
    this.stdout.write(this.json ? `${JSON.stringify(data)}\n` : safe.endsWith('\n') ? safe : `${safe}\n`);
  }

  /** A diagnostic line for people on stderr. */
  info(line: string): void {
    if (this.quiet) return;
    this.clearStatus();
    this.stderr.write(`${terminalText(line)}\n`);
  }

  warn(line: string): void {
    this.clearStatus();
    this.stderr.write(`${this.style('yellow', 'warning:')} ${terminalText(line)}\n`);
  }

  error(line: string): void {
    this.clearStatus();
    this.stderr.write(`${this.style('red', 'error:')} ${terminalText(line)}\n`);
  }

  /** A live status line (overwritten in place) when interactive; nothing otherwise. */
  status(line: string): void {
    this.statusBlock([line.replace(/\n/g, ' ')]);
  }

  /**
   * A live status block of several lines, redrawn in place when interactive (nothing otherwise):
   * the cursor goes back over the previous block, which is erased line by line. Each line is cut
   * to the terminal's width, so that none wraps and the block's height is its number of lines.
   */
  statusBlock(lines: readonly string[]): void {
    if (!this.interactive || this.quiet || lines.length === 0) return;
    // A pseudo-terminal may report 0 columns; then assume a common width.
    const columns = (this.stderr as { columns?: number }).columns;
    const width = columns !== undefined && columns > 0 ? columns : 120;
    const text = lines.map((line) => terminalText(line).slice(0, Math.max(20, width - 1))).join('\n');
    this.stderr.write(`${this.eraseStatus()}${text}`);
    this.statusLines = lines.length;
  }

  clearStatus(): void {
    if (this.statusLines === 0) return;
    this.stderr.write(this.eraseStatus());
  }

  /** The escape sequence that erases the block shown (cursor left at its first line's start). */
  private eraseStatus(): string {
    const erase = this.statusLines === 0 ? '' : `\r\x1b[2K${'\x1b[1A\x1b[2K'.repeat(this.statusLines - 1)}`;
    this.statusLines = 0;
    return erase;
  }

  style(format: Parameters<typeof styleText>[0], text: string): string {
    if (!this.stderr.isTTY || this.env.NO_COLOR !== undefined) return text;
    return styleText(format, text);
  }
}

/** Renders rows as an aligned text table (first row is the header). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) => row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0))).join('  '))
    .join('\n');
}
