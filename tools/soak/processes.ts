import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ProcessInfo {
  pid: number;
  command: string;
}

/** Direct children of `pid` with their command lines (`pgrep -a -P`); empty when there are none. */
export async function childProcesses(pid: number): Promise<ProcessInfo[]> {
  try {
    const { stdout } = await run('pgrep', ['-a', '-P', String(pid)]);
    return parsePgrep(stdout);
  } catch (error) {
    // pgrep exits 1 when nothing matches: that is an answer, not a failure.
    if ((error as { code?: unknown }).code === 1) return [];
    throw error;
  }
}

export function parsePgrep(stdout: string): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (match?.[1] !== undefined) out.push({ pid: Number(match[1]), command: match[2] ?? '' });
  }
  return out;
}

/** The `wavefier download-worker` processes a `wavefier download` process started. */
export async function downloadWorkerProcesses(downloadPid: number): Promise<ProcessInfo[]> {
  return (await childProcesses(downloadPid)).filter((child) => child.command.includes('download-worker'));
}
