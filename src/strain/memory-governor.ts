import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keeps a chunk pipeline's resident memory flat.
 *
 * Every chunk allocates its samples and its encoded bytes outside the JavaScript heap (32 KiB each
 * at 4 kHz). A chunk loop allocates almost nothing *on* the heap, so V8 sees little reason to
 * collect and lets tens of megabytes of dead buffers pile up; glibc then keeps the freed 32 KiB
 * blocks, and a reader that never holds more than one chunk sits at 120+ MB (measured: 4096 s file,
 * Node 20). Asking V8 for a young-generation collection after every few megabytes of such transient
 * buffers keeps the same loop under 100 MB, for ~0.05 ms per chunk.
 *
 * `gc` is only reachable with --expose-gc; setting the flag at run time and fetching the function
 * from a fresh context is the documented way to get it without a command-line flag.
 */
type Collect = (options?: { type?: 'minor' | 'major' }) => void;

function findCollector(): Collect | undefined {
  const existing = (globalThis as { gc?: Collect }).gc;
  if (typeof existing === 'function') return existing;
  try {
    setFlagsFromString('--expose-gc');
    const collect: unknown = runInNewContext('gc');
    setFlagsFromString('--no-expose-gc');
    return typeof collect === 'function' ? (collect as Collect) : undefined;
  } catch {
    return undefined;
  }
}

const collect = findCollector();
let budget = 4 * 1024 * 1024;
let pending = 0;

/** Records `bytes` of short-lived buffers handed to the caller; collects when the budget is used up. */
export function noteTransientBytes(bytes: number): void {
  if (collect === undefined || budget <= 0) return;
  pending += bytes;
  if (pending < budget) return;
  pending = 0;
  collect({ type: 'minor' });
}

/** Bytes of transient buffers between collections; 0 turns the governor off (V8 decides alone). */
export function setTransientMemoryBudget(bytes: number): void {
  budget = Math.max(0, bytes);
  pending = 0;
}
