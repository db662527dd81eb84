import { readFileSync, readdirSync } from 'node:fs';
import { startWavefier, type ChildResult } from '../../../src/rehearse/index.js';
import { describe, slope } from './helpers.js';

/**
 * Resident memory of a process tree over time, from /proc (Linux only). Each tick lists the
 * descendants of the root (children appear and go: download worker processes are forked after
 * start-up), reads VmRSS and VmHWM of each and keeps one series per pid. Reading /proc costs well
 * under a millisecond per tick, so sampling every 500 ms does not perturb the run.
 */
export interface ProcessSeries {
  pid: number;
  ppid: number;
  /** A short label from the command line: rehearse, upload, download, download-worker, redis-server... */
  role: string;
  command: string;
  /** Milliseconds since sampling started, and RSS in MB at that time. */
  times: number[];
  rssMb: number[];
  /** Anonymous (heap) part of RSS, without file-backed pages such as SQLite's mapped files. */
  anonMb: number[];
  /** Peak resident set size the kernel recorded (VmHWM), last seen. */
  hwmMb: number;
  /** User + system CPU time, last seen. */
  cpuSeconds: number;
}

export interface MemorySummary {
  role: string;
  pid: number;
  samples: number;
  maxRssMb: number;
  hwmMb: number;
  /** Least-squares slope of the RSS floor (minimum per 5 s) over the second half of the chosen window, MB per minute. */
  secondHalfSlopeMbPerMin: number;
  maxAnonMb: number;
  /** The same trend for the anonymous part of RSS. */
  secondHalfAnonSlopeMbPerMin: number;
  /**
   * The lowest RSS of the last third of the window less the lowest of its middle third, MB, and that
   * per minute (over the third's length): a process that warms up (caches filling, the heap growing
   * to its working size) in the first third shows ~0; one that keeps growing shows its rate. The
   * minimum over a third spans several collections, so the collector's sawtooth does not count.
   */
  thirdsFloorGrowthMb: number;
  thirdsFloorGrowthMbPerMin: number;
  thirdsAnonFloorGrowthMbPerMin: number;
  cpuSeconds: number;
}

export class TreeMemorySampler {
  private readonly series = new Map<number, ProcessSeries>();
  private readonly started = performance.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly rootPid: number,
    private readonly classify: (command: string) => string,
  ) {}

  start(everyMs = 500): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  sample(): void {
    const at = performance.now() - this.started;
    for (const { pid, ppid, cpuTicks } of descendants(this.rootPid)) {
      const status = readStatus(pid);
      if (status === undefined) continue; // exited between the listing and the read
      // Read every time: a child caught between fork() and exec() still shows its parent's command line.
      const command = readCommand(pid);
      let entry = this.series.get(pid);
      if (entry === undefined) {
        entry = { pid, ppid, role: this.classify(command), command, times: [], rssMb: [], anonMb: [], hwmMb: 0, cpuSeconds: 0 };
        this.series.set(pid, entry);
      } else if (entry.command !== command) {
        entry.command = command;
        entry.role = this.classify(command);
      }
      entry.times.push(at);
      entry.rssMb.push(status.rssKb / 1024);
      entry.anonMb.push(status.anonKb / 1024);
      entry.hwmMb = Math.max(entry.hwmMb, status.hwmKb / 1024);
      entry.cpuSeconds = cpuTicks / clockTicksPerSecond;
    }
  }

  /**
   * One summary per process. The trend is taken over the second half of `window` (ms since sampling
   * started; default each process's own lifetime), so that a process's start-up and its wind-down
   * after the work is done do not pass for growth or shrinkage.
   */
  summaries(window?: { from: number; to: number }): MemorySummary[] {
    return [...this.series.values()]
      .filter((entry) => entry.times.length > 0)
      .map((entry) => {
        const from = window?.from ?? entry.times[0] ?? 0;
        const to = window?.to ?? entry.times.at(-1) ?? 0;
        const middle = (from + to) / 2;
        const trend = (series: number[]): number => {
          // Regress the floor of each 5 s bin (the RSS after the collector ran), not every sample: a
          // garbage-collected heap saws up and down by tens of MB, which a leak must outgrow.
          const floors = new Map<number, { at: number; mb: number }>();
          entry.times.forEach((at, index) => {
            if (at < middle || at > to) return;
            const bin = Math.floor(at / floorBinMs);
            const mb = series[index] ?? Number.NaN;
            const floor = floors.get(bin);
            if (floor === undefined || mb < floor.mb) floors.set(bin, { at, mb });
          });
          const points = [...floors.values()];
          return slope(points.map((floor) => floor.at / 60_000), points.map((floor) => floor.mb));
        };
        const rssGrowth = thirdsFloorGrowth(entry.times, entry.rssMb, { from, to });
        return {
          role: entry.role,
          pid: entry.pid,
          samples: entry.times.length,
          thirdsFloorGrowthMb: rssGrowth.mb,
          thirdsFloorGrowthMbPerMin: rssGrowth.mbPerMin,
          thirdsAnonFloorGrowthMbPerMin: thirdsFloorGrowth(entry.times, entry.anonMb, { from, to }).mbPerMin,
          maxRssMb: Math.max(...entry.rssMb),
          hwmMb: entry.hwmMb,
          secondHalfSlopeMbPerMin: trend(entry.rssMb),
          maxAnonMb: Math.max(...entry.anonMb),
          secondHalfAnonSlopeMbPerMin: trend(entry.anonMb),
          cpuSeconds: entry.cpuSeconds,
        };
      });
  }

  /** First and last sample time (ms) of the first process with this role. */
  lifetime(role: string): { from: number; to: number } | undefined {
    for (const entry of this.series.values()) {
      if (entry.role !== role) continue;
      const from = entry.times[0];
      const to = entry.times.at(-1);
      if (from !== undefined && to !== undefined) return { from, to };
    }
    return undefined;
  }
}

const floorBinMs = 5_000;

/**
 * The lowest value of `series` over the last third of `window` less its lowest over the middle third,
 * and that per minute of a third (times in ms). NaN when a third holds no sample.
 */
export function thirdsFloorGrowth(times: number[], series: number[], window: { from: number; to: number }): { mb: number; mbPerMin: number } {
  const third = (window.to - window.from) / 3;
  const floorBetween = (start: number, end: number): number => {
    let floor = Number.POSITIVE_INFINITY;
    times.forEach((at, index) => {
      const mb = series[index];
      if (at >= start && at <= end && mb !== undefined && mb < floor) floor = mb;
    });
    return floor;
  };
  const growth = floorBetween(window.from + 2 * third, window.to) - floorBetween(window.from + third, window.from + 2 * third);
  if (!Number.isFinite(growth) || !(third > 0)) return { mb: Number.NaN, mbPerMin: Number.NaN };
  return { mb: growth, mbPerMin: growth / (third / 60_000) };
}

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat, 100 on every Linux architecture Node runs on. */
const clockTicksPerSecond = 100;

interface ProcEntry {
  pid: number;
  ppid: number;
  cpuTicks: number;
}

/** The root and every process below it, from /proc/<pid>/stat (ppid, utime, stime). */
function descendants(root: number): ProcEntry[] {
  const all = new Map<number, ProcEntry>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name in parentheses may contain spaces: fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(name);
      all.set(pid, { pid, ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone already
    }
  }
  const rootEntry = all.get(root);
  const found: ProcEntry[] = rootEntry === undefined ? [] : [rootEntry];
  for (let index = 0; index < found.length; index++) {
    const parent = found[index]?.pid;
    for (const entry of all.values()) if (entry.ppid === parent) found.push(entry);
  }
  return found;
}

function readStatus(pid: number): { rssKb: number; hwmKb: number; anonKb: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(text);
    const anon = /^RssAnon:\s+(\d+)\s+kB/m.exec(text);
    if (!rss || !hwm) return undefined; // a zombie has no memory lines
    return { rssKb: Number(rss[1]), hwmKb: Number(hwm[1]), anonKb: anon ? Number(anon[1]) : Number.NaN };
  } catch {
    return undefined;
  }
}

function readCommand(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '?';
  }
}

/** Roles of the processes of a `wavefier rehearse` run. */
export function rehearsalRole(command: string): string {
  if (command.includes('redis-server')) return 'redis-server';
  if (/\bwavefier\b.*\bdownload-worker\b/.test(command)) return 'download-worker';
  if (/\bwavefier\b.*\blake serve\b/.test(command)) return 'lake';
  if (/\bwavefier\b.*\brehearse\b/.test(command)) return 'rehearse';
  if (/\bwavefier\b.*\bupload-worker\b/.test(command)) return 'upload-worker';
  if (/\bwavefier\b.*\bupload\b/.test(command)) return 'upload';
  if (/\bwavefier\b.*\bdownload\b/.test(command)) return 'download';
  return command.split(' ')[0] ?? '?';
}

/**
 * `wavefier rehearse <args>` (the built executable) with every process under it sampled from /proc
 * every `everyMs`; throws with its last lines of output unless it exits 0. `wallMs`: spawn to exit.
 */
export async function sampledRehearsal(args: readonly string[], everyMs: number): Promise<{ result: ChildResult; sampler: TreeMemorySampler; wallMs: number }> {
  const tail: string[] = [];
  const started = performance.now();
  const child = startWavefier('rehearse', args, { ...process.env }, (_label, line) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
  });
  const pid = child.process.pid;
  if (pid === undefined) throw new Error('wavefier rehearse did not start');
  const sampler = new TreeMemorySampler(pid, rehearsalRole);
  sampler.start(everyMs);
  const result = await child.done.finally(() => sampler.stop());
  const wallMs = performance.now() - started;
  if (result.code !== 0) throw new Error(`wavefier rehearse exited with ${describe(result)}: ${tail.join(' / ')}`);
  return { result, sampler, wallMs };
}
