import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

export interface ScratchDir {
  /** The current test's directory (only inside a test or its hooks). */
  readonly path: string;
}

/**
 * A fresh temporary directory for every test of the calling file, removed after the test. With
 * `keepOnFailure`, a failed test's directory stays for the post-mortem and its path goes to stderr.
 */
export function scratchDirPerTest(prefix: string, options: { keepOnFailure?: boolean } = {}): ScratchDir {
  let current: string | undefined;
  beforeEach(async () => {
    current = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async (context) => {
    const dir = current;
    current = undefined;
    if (dir === undefined) return;
    if (options.keepOnFailure === true && context.task.result?.state === 'fail') console.error(`${context.task.name}: failed; its directory is kept in ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  });
  return {
    get path(): string {
      if (current === undefined) throw new Error('the scratch directory exists only while a test runs');
      return current;
    },
  };
}
