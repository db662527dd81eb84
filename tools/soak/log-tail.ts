import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Follows the JSON-lines logs of a run directory while they are written (by processes the soak does
 * not control), reading only what was appended since the last look. Lines that are not JSON yet
 * (a write in progress) stay buffered until their newline arrives.
 */
export class LogTail {
  private readonly offsets = new Map<string, number>();
  private readonly partial = new Map<string, string>();

  constructor(
    private readonly dir: string,
    private readonly select: (fileName: string) => boolean,
    private readonly onRecord: (record: Record<string, unknown>, fileName: string) => void,
  ) {}

  /** Reads everything appended since the previous call. */
  async poll(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return; // the run directory appears when the first process opens its log
    }
    for (const name of names.filter(this.select).sort()) await this.readNew(name);
  }

  private async readNew(name: string): Promise<void> {
    const offset = this.offsets.get(name) ?? 0;
    const handle = await open(join(this.dir, name), 'r');
    try {
      const { size } = await handle.stat();
      if (size <= offset) return;
      const buffer = Buffer.alloc(size - offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      this.offsets.set(name, offset + bytesRead);
      const text = (this.partial.get(name) ?? '') + buffer.subarray(0, bytesRead).toString('utf8');
      const lines = text.split('\n');
      this.partial.set(name, lines.pop() ?? '');
      for (const line of lines) {
        if (line.trim() === '') continue;
        let record: unknown;
        try {
          record = JSON.parse(line);
        } catch {
          continue; // not ours to judge: the report counts malformed lines
        }
        if (typeof record === 'object' && record !== null && !Array.isArray(record)) this.onRecord(record as Record<string, unknown>, name);
      }
    } finally {
      await handle.close();
    }
  }
}

export const isUploadLog = (name: string): boolean => /^upload.*\.jsonl$/.test(name);
export const isDownloadLog = (name: string): boolean => /^download.*\.jsonl$/.test(name);
