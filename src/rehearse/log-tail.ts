import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

/**
 * Follows a JSON-lines log that another process appends to: each `read()` returns the complete lines
 * added since the last one (a line still being written waits for its newline). A log that does not
 * exist yet is simply empty.
 */
export class LogTail {
  private offset = 0;
  private partial = '';
  /** Keeps a character whose bytes are split between two reads. */
  private readonly decoder = new StringDecoder('utf8');

  constructor(readonly path: string) {}

  async read(): Promise<string[]> {
    let handle;
    try {
      handle = await open(this.path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    try {
      const { size } = await handle.stat();
      if (size <= this.offset) return [];
      const buffer = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
      this.offset += bytesRead;
      const text = this.partial + this.decoder.write(buffer.subarray(0, bytesRead));
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      return lines.filter((line) => line.trim() !== '');
    } finally {
      await handle.close();
    }
  }
}
