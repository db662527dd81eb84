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
 *
 * The semi-space stays small too: V8 starts a full (incremental) marking as soon as the old
 * generation's room left below its limit is smaller than the new space. With these processes' live
 * heaps (~20-25 MB) that room is ~15 MB, so 8 MB semi-spaces (16 MB of new space) kept a full
 * marking running nearly all the time: ~120 full collections per 14,400-chunk replay in the upload
 * and in the download worker alike. 4 MB semi-spaces leave the room larger than the new space:
 * the download worker's full collections drop to ~30 per replay (its CPU per chunk 1.10 -> 0.90 ms),
 * the lake's from 36 to 13, for more (cheap) young-generation collections.
 */
const childHeapOptions = '--max-old-space-size=256 --max-semi-space-size=4';

/** The environment of a child process: `env` plus the heap limits (appended, so they win). */
export function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, NODE_OPTIONS: [env.NODE_OPTIONS, childHeapOptions].filter(Boolean).join(' ') };
}
