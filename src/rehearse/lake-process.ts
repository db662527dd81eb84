import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { RuntimeFailure, UnavailableError } from '../common/errors.js';
import type { LakeSettings } from '../lake/index.js';
import { childEnv, wavefierExecutable } from './child.js';

/** The embedded lake of a rehearsal, running as `wavefier lake serve` in a process of its own. */
export interface LakeProcess {
  settings: LakeSettings;
  pid: number | undefined;
  /** Installs fault injection rules (already validated) through the lake's admin API. */
  setFaults(spec: unknown): Promise<void>;
  /** SIGTERM, then SIGKILL if the lake has not stopped after `graceMs`. */
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

/**
 * Starts `wavefier lake serve --dir <dir>` with the same heap limits as the upload and download
 * processes. In the rehearse process itself the lake ran with V8's default heap sizing for this
 * machine: the garbage of 14,400 PUTs, GETs and polls was collected lazily and its RSS kept rising
 * (15-60 MB/min, to 200+ MB) although its live data stayed flat; on its own it also does not carry
 * the report's and uploader's modules, and its work runs on an event loop of its own.
 */
export async function startLakeProcess(dir: string, env: NodeJS.ProcessEnv, onLine: (line: string) => void): Promise<LakeProcess> {
  // A process group of its own: a Ctrl-C at the terminal stops upload and download, which still
  // talk to the lake while they wind down; the lake is stopped last, by close() (or at exit).
  const child = spawn(process.execPath, [wavefierExecutable(), '--json', 'lake', 'serve', '--dir', dir], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const killOnExit = (): void => {
    child.kill('SIGTERM');
  };
  process.on('exit', killOnExit);
  const exited = new Promise<void>((resolve) => {
    child.on('close', () => {
      process.off('exit', killOnExit);
      resolve();
    });
  });
  const lastLines: string[] = [];
  // Its notices about the SIGTERM of close() are not news to the rehearsal.
  let closing = false;
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (line.trim() === '' || closing) return;
    lastLines.push(line);
    if (lastLines.length > 5) lastLines.shift();
    onLine(line);
  });
  const stdout = createInterface({ input: child.stdout });
  let settings: LakeSettings;
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
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const why = lastLines.length > 0 ? `: ${lastLines.join(' / ')}` : '';
        reject(new UnavailableError(`the embedded lake exited before it was ready (${signal ?? `code ${code ?? '?'}`})${why}`));
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  // Later stdout lines (there are none today) must not block the child on a full pipe.
  stdout.on('line', () => undefined);

  return {
    settings,
    pid: child.pid,
    async setFaults(spec) {
      const response = await fetch(`${settings.rucioHost}/.lake/faults`, {
        method: 'POST',
        headers: { 'X-Lake-Admin-Token': settings.adminToken, 'Content-Type': 'application/json' },
        body: JSON.stringify(spec),
      });
      if (response.status !== 200) {
        throw new RuntimeFailure(`the embedded lake refused the fault rules with HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`);
      }
    },
    async close(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      closing = true;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
