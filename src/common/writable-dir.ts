import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, stat, statfs, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UsageError, errorMessage } from './errors.js';

/** Less free space than this, and a directory is full for us: a chunk file and a log line need more. */
const minimumFreeBytes = 1024 * 1024;

/** Why a file system refused a write, as a user can act on it. */
const reasons: Record<string, string> = {
  EROFS: 'read-only file system (EROFS)',
  EACCES: 'permission denied (EACCES)',
  EPERM: 'operation not permitted (EPERM)',
  ENOSPC: 'no space left on device (ENOSPC)',
  EDQUOT: 'disk quota exceeded (EDQUOT)',
  ENOTDIR: 'not a directory (ENOTDIR)',
};

/** The error codes that mean "this place cannot take our files", not a passing glitch. */
export function isUnwritableError(error: unknown): error is NodeJS.ErrnoException {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && code !== 'ENOTDIR' && code in reasons;
}

/** "no space left on device (ENOSPC)" for a Node file system error; its message otherwise. */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && code in reasons ? (reasons[code] ?? code) : errorMessage(error);
}

/**
 * Checks, before a run starts anything, that `dir` exists or can be created and that files can be
 * written there: the nearest existing directory on its path must be a directory, writable, on a
 * writable file system with room left, and a probe file must really be written and synced there (it
 * is removed again: a failed check leaves nothing behind, and nothing is created for a good one).
 * Throws a UsageError (exit 2) that names the flag, the directory and the reason.
 */
export async function checkWritableDir(dir: string, flag: string): Promise<void> {
  const target = resolve(dir);
  const fail = (at: string, why: string): never => {
    const where = at === target ? '' : ` (at ${at}, which would hold it)`;
    throw new UsageError(`cannot write to ${flag} ${dir}: ${why}${where}; choose another ${flag} or fix the directory`);
  };
  let existing = target;
  for (;;) {
    const info = await stat(existing).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      return fail(existing, describeFsError(error));
    });
    if (info !== undefined) {
      if (!info.isDirectory()) fail(existing, existing === target ? 'it is not a directory' : 'a file of that name is in the way');
      break;
    }
    const parent = dirname(existing);
    if (parent === existing) fail(existing, 'no part of the path exists');
    existing = parent;
  }
  await access(existing, constants.W_OK | constants.X_OK).catch((error: unknown) => fail(existing, describeFsError(error)));
  const space = await statfs(existing).catch(() => undefined);
  // Pseudo file systems (/proc, /sys) have no blocks at all: their "0 free" says nothing.
  if (space !== undefined && space.blocks > 0 && space.bavail * space.bsize < minimumFreeBytes) {
    fail(existing, `${reasons.ENOSPC ?? 'ENOSPC'}: ${space.bavail * space.bsize} bytes free`);
  }
  const probe = join(existing, `.wavefier-write-check-${process.pid}-${randomBytes(4).toString('hex')}`);
  let file;
  try {
    file = await open(probe, 'wx', 0o600);
    // A whole block: a file system that is full refuses it (one byte may still fit in a tail).
    await file.write(Buffer.alloc(4096));
    await file.sync();
  } catch (error) {
    fail(existing, describeFsError(error));
  } finally {
    await file?.close().catch(() => undefined);
    await unlink(probe).catch(() => undefined);
  }
}
