import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Short-lived HDF5 files for h5wasm (which reads and writes through the real filesystem): chunk
 * templates and chunks being decoded. In /dev/shm when there is one, so nothing touches a disk.
 * Each file is removed right after use; the directory when the process exits.
 */
let directory: string | undefined;
let counter = 0;

function scratchDirectory(): string {
  if (directory !== undefined) return directory;
  let base = tmpdir();
  try {
    accessSync('/dev/shm', constants.W_OK);
    base = '/dev/shm';
  } catch {
    // No shared-memory filesystem (macOS, some containers): the temporary directory will do.
  }
  const created = mkdtempSync(join(base, `wavefier-${process.pid}-`));
  directory = created;
  process.once('exit', () => rmSync(created, { recursive: true, force: true }));
  return created;
}

export function scratchPath(label: string): string {
  return join(scratchDirectory(), `${label}-${++counter}.hdf5`);
}
