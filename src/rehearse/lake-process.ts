import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { definedProps } from '../common/defined.js';
import { RuntimeFailure, UnavailableError } from '../common/errors.js';
import { faultSpecSchema, type CatalogFault, type FaultCounters, type LakeSettings, type StorageFault } from '../lake/index.js';
import { ownedChildOptions, stopAtExit, stopOwnedChild } from '../common/shutdown.js';
import { childEnv, wavefierExecutable } from './child.js';

/** The fault injection of a running lake: its rules (bursts as far as consumed) and its counters. */
export interface LakeFaultState {
  rules: { catalog: CatalogFault[]; storage: StorageFault[] };
  counters: FaultCounters;
}

/**
 * The embedded lake of a rehearsal, a benchmark or the soak, running as `wavefier lake serve` in a
 * process of its own; its fault injection is driven through the lake's admin API.
 */
export interface LakeProcess {
  settings: LakeSettings;
  pid: number | undefined;
  /** Replaces the fault injection rules (the lake validates them; counters keep running). */
  setFaults(spec: unknown): Promise<void>;
  /** The active rules and the counters. */
  faults(): Promise<LakeFaultState>;
  /** Removes every rule; the counters stay. */
  clearFaults(): Promise<void>;
  /** Asks it to stop (closes its pipe); SIGTERM if it has not stopped after `graceMs`, SIGKILL 2 s later. */
  close(graceMs?: number): Promise<void>;
}

/** The fields of `lake serve --json`'s ready line that a rehearsal relies on. */
const readySchema = z.looseObject({
  event: z.literal('lake-ready'),
  rucioHost: z.url(),
  rucioHome: z.string().min(1),
  dir: z.string().min(1),
  defaultRse: z.string().min(1),
  adminToken: z.string().min(1),
  s3: z.looseObject({ endpoint: z.url() }),
});

const readyTimeoutMs = 60_000;

const count = z.number().int().min(0);
/** What every `/.lake/faults` call answers. */
const faultStateSchema = z.object({
  rules: faultSpecSchema,
  counters: z.object({
    catalog: z.object({ delayed: count, errors: count, drops: count }),
    storage: z.object({ delayed: count, errors: count, drops: count, corruptedWrites: count, corruptedReads: count }),
    objects: z.object({ corrupted: count, deleted: count }),
  }),
});

/**
 * Starts `wavefier lake serve --dir <dir>` with the same heap limits as the upload and download
 * processes. In the rehearse process itself the lake ran with V8's default heap sizing for this
 * machine: the garbage of 14,400 PUTs, GETs and polls was collected lazily and its RSS kept rising
 * (15-60 MB/min, to 200+ MB) although its live data stayed flat; on its own it also does not carry
 * the report's and uploader's modules, and its work runs on an event loop of its own.
 */
export async function startLakeProcess(
  dir: string,
  env: NodeJS.ProcessEnv,
  onLine: (line: string) => void,
  /** More `lake serve` flags, e.g. `--davs-rse URL`. */
  serveArgs: readonly string[] = [],
  /** A stop request while the lake starts ends the wait for it (the start then throws the signal's reason). */
  signal?: AbortSignal,
): Promise<LakeProcess> {
  // A process group of its own and this process's pipe as stdin (common/shutdown.ts): a Ctrl-C at
  // the terminal reaches the rehearsal, which stops upload and download first (they still talk to
  // the lake while they wind down) and the lake last, by close(); if the rehearsal dies, even by
  // SIGKILL, the pipe closes and the lake stops by itself.
  const child = spawn(process.execPath, [wavefierExecutable(), '--json', 'lake', 'serve', '--dir', dir, ...serveArgs], ownedChildOptions(childEnv(env)));
  stopAtExit(child);
  child.stdin.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => {
    child.on('close', () => resolve());
  });
  const lastLines: string[] = [];
  // Its notices about the stop that close() asks for are not news to the rehearsal.
  let closing = false;
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (line.trim() === '' || closing) return;
    lastLines.push(line);
    if (lastLines.length > 5) lastLines.shift();
    onLine(line);
  });
  const stdout = createInterface({ input: child.stdout });
  let settings: LakeSettings;
  let onAbort = (): void => undefined;
  try {
    settings = await new Promise<LakeSettings>((resolve, reject) => {
      const timer = setTimeout(() => reject(new UnavailableError(`the embedded lake did not start within ${readyTimeoutMs / 1000} s (state in ${dir})`)), readyTimeoutMs);
      stdout.once('line', (line) => {
        clearTimeout(timer);
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          parsed = undefined;
        }
        const ready = readySchema.safeParse(parsed);
        if (ready.success) resolve(ready.data as unknown as LakeSettings);
        else reject(new RuntimeFailure(`the embedded lake printed '${line.slice(0, 200)}' instead of its settings: a wavefier build mismatch? Run npm run build`));
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new UnavailableError(`could not start the embedded lake: ${error.message}`));
      });
      child.once('exit', (code, exitSignal) => {
        clearTimeout(timer);
        const why = lastLines.length > 0 ? `: ${lastLines.join(' / ')}` : '';
        reject(new UnavailableError(`the embedded lake exited before it was ready (${exitSignal ?? `code ${code ?? '?'}`})${why}`));
      });
      // A Ctrl-C while the lake starts: do not wait for it to be ready only to stop it.
      onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('interrupted'));
      };
      if (signal?.aborted === true) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  } catch (error) {
    closing = true;
    child.kill('SIGKILL');
    await exited;
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  // Later stdout lines (there are none today) must not block the child on a full pipe.
  stdout.on('line', () => undefined);

  const faultsCall = async (method: 'GET' | 'POST' | 'DELETE', spec?: unknown): Promise<LakeFaultState> => {
    const body = spec === undefined ? undefined : JSON.stringify(spec);
    const response = await fetch(`${settings.rucioHost}/.lake/faults`, {
      method,
      headers: { 'X-Lake-Admin-Token': settings.adminToken, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      ...definedProps({ body }),
    });
    const text = await response.text();
    if (response.status !== 200) {
      const what = method === 'POST' ? 'refused the fault rules' : `answered ${method} /.lake/faults`;
      throw new RuntimeFailure(`the embedded lake ${what} with HTTP ${response.status}: ${text.slice(0, 300)}`);
    }
    const state = faultStateSchema.safeParse(parseJson(text));
    if (!state.success) throw new RuntimeFailure(`the embedded lake answered ${method} /.lake/faults with '${text.slice(0, 200)}': a wavefier build mismatch? Run npm run build`);
    return state.data;
  };

  return {
    settings,
    pid: child.pid,
    async setFaults(spec) {
      await faultsCall('POST', spec);
    },
    faults: () => faultsCall('GET'),
    async clearFaults() {
      await faultsCall('DELETE');
    },
    async close(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      closing = true;
      await stopOwnedChild(child, { forceAfterMs: graceMs });
      await exited;
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
