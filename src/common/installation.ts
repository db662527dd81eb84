import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeFailure } from './errors.js';

let root: string | undefined;

/**
 * The directory of this wavefier installation (package.json, bin/), found upwards from this module:
 * the same answer from the compiled product (dist/), from the sources under vitest (src/), and from
 * the tools' build, which compiles the sources once more (build/src/).
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'bin', 'wavefier'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new RuntimeFailure(`no wavefier installation (package.json and bin/wavefier) above ${fileURLToPath(import.meta.url)}: reinstall wavefier`);
    dir = parent;
  }
  root = dir;
  return dir;
}

/** The wavefier executable of this installation, for running its commands as separate processes. */
export function wavefierExecutable(): string {
  return join(packageRoot(), 'bin', 'wavefier');
}

/**
 * V8 sizes its heap for this machine's memory (gigabytes), so a busy upload, download, lake or
 * download-worker process lets garbage pile up to 250+ MB before collecting it. Their live data is
 * small (a few MB even for a 4-hour run); tighter limits keep each process near 150 MB at the cost
 * of more frequent, cheap GCs.
 */
const childHeapOptions = '--max-old-space-size=256 --max-semi-space-size=8';

/** The environment of a child process: `env` plus the heap limits (appended, so they win). */
export function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, NODE_OPTIONS: [env.NODE_OPTIONS, childHeapOptions].filter(Boolean).join(' ') };
}
