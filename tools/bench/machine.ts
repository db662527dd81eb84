import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { definedProps } from '../../src/common/defined.js';
import type { MachineInfo } from './types.js';

export function machineInfo(): MachineInfo {
  const processors = cpus();
  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // Not a git checkout (an installed package): the results just carry no commit.
  }
  return {
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    cpuCount: processors.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    ...definedProps({ commit }),
  };
}

export function describeMachine(machine: MachineInfo): string {
  return (
    `${machine.cpuModel} (${machine.cpuCount} CPUs), ${machine.memoryGiB} GiB memory, Node ${machine.node}, ${machine.platform}, ` +
    `load average ${machine.loadAverage} at the start` +
    (machine.commit === undefined ? '' : `, commit ${machine.commit}`)
  );
}
