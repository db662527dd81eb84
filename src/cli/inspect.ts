import type { Command } from 'commander';
import { isWavefierError, type WavefierError } from '../common/errors.js';
import { table } from '../common/output.js';
import { contextFor, type RegisterCommand } from './runtime.js';
import type { StrainFileSummary } from '../strain/index.js';

export const registerInspect: RegisterCommand = (program, runtime) => {
  program
    .command('inspect')
    .description('show what GWOSC/LOSC strain HDF5 files (or wavefier chunks) hold: detector, GPS span, rate, NaN gaps, data quality')
    .argument('<files...>', 'HDF5 strain files')
    .action(async (files: string[], _options: unknown, command: Command) => {
      const { output, json } = contextFor(command, runtime);
      // Imported here so that other commands do not pay for loading the HDF5 WebAssembly modules.
      const { summariseStrainFile } = await import('../strain/index.js');
      const summaries: StrainFileSummary[] = [];
      let lastError: WavefierError | undefined;
      for (const file of files) {
        try {
          const summary = summariseStrainFile(file);
          summaries.push(summary);
          if (json) output.result(summary, '');
        } catch (error) {
          if (!isWavefierError(error)) throw error;
          // Every bad file gets its line; the last one is thrown so that main sets the exit code.
          if (lastError !== undefined) output.info(`wavefier: error: ${lastError.message}`);
          lastError = error;
        }
      }
      if (!json && summaries.length > 0) output.result(null, render(summaries));
      if (lastError !== undefined) throw lastError;
    });
};

function render(summaries: readonly StrainFileSummary[]): string {
  const rows = [['FILE', 'DETECTOR', 'GPS START', 'GPS END', 'DURATION', 'RATE', 'SAMPLES', 'NAN GAPS', 'DQ', 'LAYOUT']];
  for (const summary of summaries) {
    rows.push([
      summary.file,
      `${summary.detector} (${summary.observatory})`,
      formatGps(summary.gpsStart),
      formatGps(summary.gpsEnd),
      `${formatGps(summary.duration)} s`,
      `${summary.sampleRate} Hz`,
      String(summary.sampleCount),
      summary.nanGaps.length === 0 ? 'none' : `${summary.nanGaps.length} (${summary.nanSamples} samples)`,
      dqText(summary),
      summary.layout,
    ]);
  }
  const lines = [table(rows)];
  for (const summary of summaries) {
    const chunk = summary.chunk;
    if (chunk === undefined) continue;
    const origin = chunk.sourceKind === 'file' ? `${chunk.sourceFile ?? '?'} at GPS ${formatGps(chunk.sourceGps ?? Number.NaN)}` : (chunk.sourceKind ?? '?');
    const tAvail = chunk.tAvail === undefined ? '?' : new Date(chunk.tAvail).toISOString();
    lines.push('', `${summary.file}: chunk ${chunk.seq ?? '?'} of run ${chunk.runId ?? '?'}, from ${origin}, t_avail ${tAvail}`);
  }
  for (const summary of summaries) {
    if (summary.nanGaps.length === 0) continue;
    lines.push('', `NaN gaps in ${summary.file} (GPS [start, end)):`);
    for (const gap of summary.nanGaps) lines.push(`  [${formatGps(gap.gpsStart)}, ${formatGps(gap.gpsEnd)})  ${gap.samples} samples`);
  }
  return lines.join('\n');
}

function dqText(summary: StrainFileSummary): string {
  const dq = summary.dq;
  if (!dq) return 'absent';
  const total = dq.perBit.length;
  if (dq.allBitsSet * dq.spacing === dq.seconds) return `all ${total} bits set, ${dq.seconds} s`;
  const unset = dq.perBit.filter((bit) => bit.set * dq.spacing < dq.seconds);
  return `${dq.allBitsSet * dq.spacing}/${dq.seconds} s all set; partial: ${unset.map((bit) => `${bit.name ?? `bit${bit.bit}`} ${bit.set * dq.spacing} s`).join(', ')}`;
}

function formatGps(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(6).replace(/0+$/, '');
}
