import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ObjectExistsError,
  ObjectNotFoundError,
  StorageError,
  StorageTransientError,
  type ObjectStore,
  type PutOptions,
} from './object-store.js';

/**
 * The posix protocol (`file://host/path`), what a minimal real Rucio deployment uses. Writes go
 * to a temporary name in the same directory and are renamed into place, so a reader sees either
 * nothing or the complete object.
 */
export class FileStore implements ObjectStore {
  readonly scheme = 'file';

  static pathOf(pfn: string): string {
    if (!pfn.startsWith('file://')) throw new StorageError('address', pfn, 'not a file:// PFN');
    // A URL resolves `.` and `..` segments (a DID named a/../b would read or write b's file): refused instead.
    if (pfn.slice('file://'.length).split(/[?#]/, 1)[0]?.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment)) === true) {
      throw new StorageError('address', pfn, "has a '.' or '..' path segment");
    }
    // file://localhost/srv/x → /srv/x; the host part is informational for posix RSEs.
    const url = new URL(pfn);
    return fileURLToPath(`file://${url.pathname}`);
  }

  async put(pfn: string, bytes: Uint8Array, options?: PutOptions): Promise<void> {
    const path = FileStore.pathOf(pfn);
    const temp = `${path}.${randomBytes(6).toString('hex')}.part`;
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(temp, bytes);
      if (options?.ifAbsent === true) {
        // link() refuses an existing target: an atomic "create only if absent".
        await link(temp, path);
        await unlink(temp);
      } else {
        await rename(temp, path);
      }
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(pfn, { cause: error });
      throw fsError('put', pfn, error);
    }
  }

  async get(pfn: string): Promise<Uint8Array> {
    try {
      return await readFile(FileStore.pathOf(pfn));
    } catch (error) {
      throw fsError('get', pfn, error);
    }
  }

  async stat(pfn: string): Promise<{ bytes: number } | undefined> {
    try {
      const info = await stat(FileStore.pathOf(pfn));
      return info.isFile() ? { bytes: info.size } : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError('stat', pfn, error);
    }
  }

  async delete(pfn: string): Promise<void> {
    try {
      await rm(FileStore.pathOf(pfn), { force: true });
    } catch (error) {
      throw fsError('delete', pfn, error);
    }
  }

  async close(): Promise<void> {
    // nothing held open
  }
}

function fsError(operation: string, pfn: string, error: unknown): Error {
  if (error instanceof StorageError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' && operation !== 'put') return new ObjectNotFoundError(pfn, { cause: error });
  if (code === 'EAGAIN' || code === 'EBUSY' || code === 'EMFILE' || code === 'ENFILE' || code === 'EIO') {
    return new StorageTransientError(operation, pfn, code, { cause: error });
  }
  return new StorageError(operation, pfn, `${code ?? 'error'}: ${(error as Error).message}; check the RSE path and its permissions`, {
    cause: error,
  });
}
